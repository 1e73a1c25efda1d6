// DOM building and formatting. Every value from the API goes into the page as text
// (textContent / attributes), never as HTML: titles, prompts and tool output are hostile.

const SVG_NS = "http://www.w3.org/2000/svg";

/** h("a", {href: "#/x", class: "y"}, "text", child, ...): an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** s("line", {...}): an SVG element. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const numberFormat = new Intl.NumberFormat(undefined);
const moneyFormat = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const percentFormat = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0 });

/** 1234567 -> "1,234,567" (the viewer's separators). */
export function num(value) {
  return value === null || value === undefined ? "—" : numberFormat.format(value);
}

/** Compact token counts for charts: 163k, 1.2M. */
export function short(value) {
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 0 : 1)}M`;
  if (value >= 1e4) return `${Math.round(value / 1e3)}k`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return String(value);
}

export function pct(value) {
  return percentFormat.format(value);
}

/** Dollars with cents; the exact figure in micro-dollars on hover. */
export function money(usd) {
  const value = Number(usd || 0);
  const micros = Math.round(value * 1e6);
  const text = value > 0 && value < 0.005 ? "< $0.01" : moneyFormat.format(value);
  return h("span", { class: "money", title: `${numberFormat.format(micros)} µ$ (micro-dollars)` }, text);
}

const dateTime = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** An ISO instant in the viewer's time zone, as a <time> element. */
export function when(iso, withSeconds = false) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  const text = (withSeconds ? dateTimeSeconds : dateTime).format(date);
  return h("time", { datetime: iso, title: `${date.toISOString()} (UTC) · shown in ${zone}` }, text);
}

export function clock(iso) {
  return iso ? timeOnly.format(new Date(iso)) : "—";
}

/** 93 s -> "1 min 33 s", 7200 s -> "2 h 0 min". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
  const sec = Math.max(0, Math.round(seconds));
  if (sec < 60) return `${sec} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${sec % 60} s`;
  if (sec < 86400) return `${Math.floor(sec / 3600)} h ${Math.floor((sec % 3600) / 60)} min`;
  return `${Math.floor(sec / 86400)} d ${Math.floor((sec % 86400) / 3600)} h`;
}

export function ms(value) {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

export function ago(iso) {
  if (!iso) return "—";
  return `${duration((Date.now() - new Date(iso).getTime()) / 1000)} ago`;
}

/** Short ids: the first 8 characters, the whole id on hover. */
export function shortId(id) {
  return h("span", { class: "mono", title: id }, id ? id.slice(0, 8) : "—");
}

export function plural(n, word, words = `${word}s`) {
  return `${num(n)} ${n === 1 ? word : words}`;
}

export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("show"), 3500);
}

/** Local midnight of today as ISO: the live page's "today" is the viewer's day. */
export function localMidnight() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.toISOString();
}
