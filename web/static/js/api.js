// The JSON API client. With --api-tokens the token lives in sessionStorage (this tab
// only) and goes out as "Authorization: Bearer"; a 401 asks for a token again.

const TOKEN_KEY = "loomline.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function headers(extra = {}) {
  const out = { Accept: "application/json", ...extra };
  const t = token();
  if (t) out.Authorization = `Bearer ${t}`;
  return out;
}

/** Build /api/v1/... with query parameters; empty values are left out. */
export function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    if (Array.isArray(value)) value.forEach((v) => query.append(key, v));
    else query.set(key, String(value));
  }
  const qs = query.toString();
  return `/api/v1${path}${qs ? `?${qs}` : ""}`;
}

async function request(method, path, params, body) {
  const init = { method, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
  if (body) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(url(path, params), init);
  } catch (err) {
    throw new ApiError(0, "unreachable", "the loomline server does not answer (is `loomline serve` running?)");
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "error", error.message || `HTTP ${response.status}`);
  }
  return data;
}

export const get = (path, params = {}) => request("GET", path, params);
export const patch = (path, body) => request("PATCH", path, {}, body);
export const del = (path) => request("DELETE", path, {});

export const enc = encodeURIComponent;
