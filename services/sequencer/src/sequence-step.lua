-- One numbering step for one Heliograph stream (DESIGN.md, Sequencer).
-- KEYS: head, log, status, fence, applied_1 .. applied_k   (all share the stream's hash tag)
-- ARGV: epoch, applied_ttl_seconds, k, then per message: ingest_id, body_text
-- body_text is the event JSON without its leading '{"event_number":N,' (contracts eventBodyText).
-- Returns one entry per message, in order:
--   { n, text, 1 }  numbered now
--   { n, text, 0 }  numbered before (a redelivery): the stored text
--   { -1 }          the stream is halted: not numbered
-- Errors with STALE_EPOCH when a newer lease epoch has written this stream.
-- Log entry fields 'e' and 'i' are LOG_EVENT_FIELD and LOG_INGEST_FIELD of packages/store.

local epoch = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local k = tonumber(ARGV[3])

local fence = tonumber(redis.call('GET', KEYS[4]) or '0')
if epoch < fence then
  return redis.error_reply('STALE_EPOCH epoch ' .. ARGV[1] .. ' is older than fence ' .. string.format('%d', fence))
end
if epoch > fence then
  redis.call('SET', KEYS[4], ARGV[1])
end

local head = tonumber(redis.call('GET', KEYS[1]) or '-1')
local halted = redis.call('HGET', KEYS[3], 'status') == 'halted'
local results = {}

for j = 1, k do
  local applied_key = KEYS[4 + j]
  local ingest_id = ARGV[2 + 2 * j]
  local body = ARGV[3 + 2 * j]
  local prior = redis.call('GET', applied_key)
  if prior then
    local id = string.format('%d-0', tonumber(prior) + 1)
    local entries = redis.call('XRANGE', KEYS[2], id, id)
    local text = ''
    local entry = entries[1]
    if entry then
      local fields = entry[2]
      for f = 1, #fields, 2 do
        if fields[f] == 'e' then text = fields[f + 1] end
      end
    end
    results[j] = { tonumber(prior), text, 0 }
  elseif halted then
    results[j] = { -1 }
  else
    head = head + 1
    local n = string.format('%d', head)
    local text = '{"event_number":' .. n .. ',' .. body
    redis.call('XADD', KEYS[2], string.format('%d-0', head + 1), 'e', text, 'i', ingest_id)
    -- Head right after its entry: a script that errors part way is not rolled back.
    redis.call('SET', KEYS[1], n)
    redis.call('SET', applied_key, n, 'EX', ttl)
    results[j] = { head, text, 1 }
  end
end
return results
