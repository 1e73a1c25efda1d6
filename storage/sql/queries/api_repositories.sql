-- Query API: the repositories of an org with their totals (GET /api/v1/{org}/repositories),
-- most recently active first. The explorer's "By repository" view and its Repository filter.
--   org String, from_us Int64, to_us Int64 (sessions active in [from, to)), limit UInt32
-- A session's repository is enrichment's (enrich/repository.py); sessions without one
-- share the row with repository ''. Branches: the sessions' git branches (the hook
-- bridge's), most recently active first, at most 100 (branch_count counts them all).
-- Per (repository, branch) first, so each branch's last activity orders the list; thread
-- and user counts merge exact sets across branches.
SELECT
    repository,
    argMax(provider, branch_last_at) AS provider,
    sum(sessions) AS session_count,
    uniqExactMerge(threads) AS thread_count,
    uniqExactMerge(users) AS user_count,
    sum(micros) / 1000000 AS cost_usd,
    sum(tokens) AS total_tokens,
    sum(active_sessions) AS active_session_count,
    arraySlice(arrayMap(b -> b.2, arrayReverseSort(groupArrayIf((branch_last_at, git_branch), git_branch != ''))),
               1, 100) AS branches,
    countIf(git_branch != '') AS branch_count,
    max(branch_last_at) AS last_active_at
FROM
(
    SELECT
        repository,
        git_branch,
        argMax(repository_provider, last_activity_at) AS provider,
        count() AS sessions,
        uniqExactState(thread_id) AS threads,
        uniqExactState(user_id) AS users,
        sum(cost_micros) AS micros,
        sum(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens) AS tokens,
        countIf(closed_at IS NULL) AS active_sessions,
        max(last_activity_at) AS branch_last_at
    FROM llm_sessions FINAL
    WHERE org_id = {org:String}
      AND is_deleted = 0
      AND last_activity_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')
      AND started_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
    GROUP BY repository, git_branch
)
GROUP BY repository
ORDER BY last_active_at DESC, repository
LIMIT {limit:UInt32}
