-- One numbering step for one Heliograph stream (docs/architecture.md, Sequencer; promises 2 and 6).
-- KEYS: head, log, status, fence, held, idea_state, ideas, open_ideas, applied_1 .. applied_k
--       (all share the stream's hash tag), then optionally the partition's lease epoch key
--       (store partitionEpochKey). That key has no stream hash tag, so passing it makes the call
--       cross-slot: only on single-node Redis (the sequencer's REDIS_CLUSTER setting leaves it out
--       and reads the epoch with a separate command instead).
-- ARGV: mode ('step' | 'drain' | 'restore'), epoch, applied_ttl_seconds, now (ISO text), text_open,
--       number_end, k, expected_head, hot_window, recorded_up_to, then per message the 9 fields:
--       ingest_id, body_text, event_type, idea_id, ts_ms, ts_text, projection_prefix, problem,
--       held_entry
--   hot_window: events the log keeps (docs/architecture.md, "The hot window"); 0 keeps all.
--   recorded_up_to: the last event number the caller knows EVENTS stored (-1: none known). The log
--     never drops an event after it, whatever the window: a crash before its EVENTS publish is
--     repaired by publishing it from this log. In restore mode the events come from EVENTS, so
--     every one of them counts as recorded, and this is the first one's number instead.
--   expected_head: the head the caller last saw (it verified the stream against EVENTS since);
--     '' skips the check. Any other head means Redis lost writes (or someone else wrote): the
--     step refuses with HEAD_MOVED and writes nothing, and the caller verifies the stream again.
--   text_open, number_end: the pieces of the event text around its number (contracts
--     EVENT_TEXT_OPEN, EVENT_NUMBER_END): an event's text is text_open .. n .. number_end ..
--     body_text, exactly contracts eventText; the format is defined there, not here.
--   body_text: the event JSON after its number (contracts eventBodyText).
--   event_type: only for idea events (IdeaOpened, IdeaUpdated, IdeaClosed), else '' (no rules).
--   ts_ms: the timestamp in ms, '' when it does not parse (then it is never "earlier").
--   projection_prefix: the IdeaProjection JSON without its closing '}' and without event_number
--     and events, which are appended here.
--   problem: non-empty when the message can never be numbered as it is (unreadable): a violation.
--   held_entry: the held-list text of the message (store heldEntryText), or '' when the caller
--     left it out (only a message that must be held needs it; see 'need_held').
-- mode 'step': INGEST messages. A message applied before returns its outcome; while the stream
--   is halted or its held list is not empty, messages go to the held list's tail; otherwise the
--   rules are checked and the message is numbered, or halts the stream and is held.
-- mode 'restore': events read back from EVENTS (the record) into a Redis that is behind it, in
--   order from expected_head + 1: each is numbered as it was (same text, applied record, idea
--   state), with no rule checked: the record already holds them.
-- mode 'drain': the held list's head entries, in order, after a halt was resolved. Each must
--   still be at the head (else the drain stops: 'changed'); numbered ones are popped.
-- Returns { results, { halted 0|1, held length, stop } }, results one per message processed:
--   { n, '', 1 }     numbered now (the caller has the text: contracts eventText(n, body_text))
--   { n, text, 0 }   numbered before (a redelivery): the stored text
--   { -1 }           held (kept in the held list, not numbered)
--   { -2, reason }   broke the rules: the stream is halted now, the message is the held head
--   { -3 }           parked by an operator before (a redelivery)
-- In drain mode the results stop at the first message that was not numbered; stop says why:
-- 'halted', 'changed' or ''. In step mode the results stop, with stop 'need_held', at the first
-- message that must be held but came without its held entry: nothing of it or after it was done,
-- and the caller sends the rest again with their held entries.
-- The applied record of a held message has no expiry (a halt may outlast the TTL); it gets the TTL
-- once the message is numbered (here) or parked (store resolveHalt).
-- Errors with STALE_EPOCH when a newer lease epoch has written this stream, or, when the partition
-- epoch key is given, when the partition's epoch is no longer this one (a takeover, even of
-- streams the new owner has not written yet).
-- Log entry fields 'e' and 'i' are LOG_EVENT_FIELD and LOG_INGEST_FIELD of packages/store; the
-- idea state text is store ideaStateText; held/status layout as store halts.ts reads it.

local K_HEAD, K_LOG, K_STATUS, K_FENCE, K_HELD, K_ISTATE, K_IDEAS, K_OPEN = 1, 2, 3, 4, 5, 6, 7, 8
local FIELDS = 9
local mode = ARGV[1]
local epoch = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local now = ARGV[4]
local text_open = ARGV[5]
local number_end = ARGV[6]
local k = tonumber(ARGV[7])
local expected_head = ARGV[8]
local hot_window = tonumber(ARGV[9])
local recorded_up_to = tonumber(ARGV[10])
local HEADER = 10

local partition_epoch_key = KEYS[8 + k + 1]
if partition_epoch_key then
  local current = redis.call('GET', partition_epoch_key) or '0'
  if tonumber(current) ~= epoch then
    return redis.error_reply('STALE_EPOCH epoch ' .. ARGV[2] .. ' is not the partition epoch ' .. current)
  end
end

local fence = tonumber(redis.call('GET', KEYS[K_FENCE]) or '0')
if epoch < fence then
  return redis.error_reply('STALE_EPOCH epoch ' .. ARGV[2] .. ' is older than fence ' .. string.format('%d', fence))
end
if epoch > fence then
  redis.call('SET', KEYS[K_FENCE], ARGV[2])
end

local head = tonumber(redis.call('GET', KEYS[K_HEAD]) or '-1')
if expected_head ~= '' and head ~= tonumber(expected_head) then
  return redis.error_reply('HEAD_MOVED head ' .. string.format('%d', head) .. ' expected ' .. expected_head)
end
local halted = redis.call('HGET', KEYS[K_STATUS], 'status') == 'halted'
local held_len = redis.call('LLEN', KEYS[K_HELD])

local function arg(j, f) return ARGV[HEADER + (j - 1) * FIELDS + f] end

local function idea_state(id)
  local text = redis.call('HGET', KEYS[K_ISTATE], id)
  if not text then return nil end
  local s, ms, events, ts = string.match(text, '^(%a)|(%-?%d*)|(%d+)|(.*)$')
  return { state = s, ms = ms, events = tonumber(events), ts = ts }
end

-- Exactly contracts ideaTransitionViolation (a unit test holds the two together).
local function violation(j)
  local problem = arg(j, 8)
  if problem ~= '' then return problem end
  local etype = arg(j, 3)
  if etype == '' then return nil end
  local cur = idea_state(arg(j, 4))
  if etype == 'IdeaOpened' then
    if cur then
      return 'idea is already ' .. (cur.state == 'o' and 'open' or 'closed') .. '; it cannot be opened again'
    end
    return nil
  end
  if not cur then return etype .. ' of an idea that was never opened' end
  if cur.state == 'c' then return etype .. ' after the idea was closed' end
  local ms = arg(j, 5)
  if ms ~= '' and cur.ms ~= '' and tonumber(ms) < tonumber(cur.ms) then
    return 'timestamp ' .. arg(j, 6) .. " is earlier than the idea's last event (" .. cur.ts .. ')'
  end
  return nil
end

local function stored_text(n)
  local id = string.format('%d-0', n + 1)
  local entry = redis.call('XRANGE', KEYS[K_LOG], id, id)[1]
  if entry then
    local fields = entry[2]
    for f = 1, #fields, 2 do
      if fields[f] == 'e' then return fields[f + 1] end
    end
  end
  return ''
end

local function number(j)
  head = head + 1
  local n = string.format('%d', head)
  local text = text_open .. n .. number_end .. arg(j, 2)
  redis.call('XADD', KEYS[K_LOG], string.format('%d-0', head + 1), 'e', text, 'i', arg(j, 1))
  -- Head right after its entry: a script that errors part way is not rolled back.
  redis.call('SET', KEYS[K_HEAD], n)
  redis.call('SET', KEYS[8 + j], n, 'EX', ttl)
  local etype = arg(j, 3)
  if etype ~= '' then
    local id = arg(j, 4)
    local cur = idea_state(id)
    local events = string.format('%d', (cur and cur.events or 0) + 1)
    local closed = etype == 'IdeaClosed'
    redis.call('HSET', KEYS[K_ISTATE], id, (closed and 'c' or 'o') .. '|' .. arg(j, 5) .. '|' .. events .. '|' .. arg(j, 6))
    redis.call('HSET', KEYS[K_IDEAS], id, arg(j, 7) .. ',"event_number":' .. n .. ',"events":' .. events .. '}')
    if closed then redis.call('SREM', KEYS[K_OPEN], id) else redis.call('SADD', KEYS[K_OPEN], id) end
  end
  -- Not the text: the caller builds it from body_text, which spares Redis and the client the copy.
  return { head, '', 1 }
end

local function halt(j, reason)
  halted = true
  redis.call('HSET', KEYS[K_STATUS], 'status', 'halted', 'reason', reason, 'ingest_id', arg(j, 1), 'since', now)
  return { -2, reason }
end

local results = {}
local stop = ''

if mode == 'restore' then
  -- recorded_up_to is the first input's number here. Past head + 1: EVENTS no longer holds the
  -- events between (its retention), so the log restarts at it; a log with a hole would be read
  -- across the hole.
  if recorded_up_to > head + 1 then
    redis.call('DEL', KEYS[K_LOG])
    head = recorded_up_to - 1
  end
  for j = 1, k do
    results[j] = number(j)
  end
elseif mode == 'step' then
  for j = 1, k do
    local applied_key = KEYS[8 + j]
    local prior = redis.call('GET', applied_key)
    if prior == 'held' then
      results[j] = { -1 }
    elseif prior == 'parked' then
      results[j] = { -3 }
    elseif prior then
      results[j] = { tonumber(prior), stored_text(tonumber(prior)), 0 }
    elseif (halted or held_len > 0) and arg(j, 9) == '' then
      stop = 'need_held'
      break
    elseif halted or held_len > 0 then
      redis.call('RPUSH', KEYS[K_HELD], arg(j, 9))
      held_len = held_len + 1
      redis.call('SET', applied_key, 'held')
      results[j] = { -1 }
    else
      local reason = violation(j)
      if reason and arg(j, 9) == '' then
        -- The caller sends the entry of every message that can break a rule; kept safe anyway.
        stop = 'need_held'
        break
      elseif reason then
        redis.call('RPUSH', KEYS[K_HELD], arg(j, 9))
        held_len = held_len + 1
        redis.call('SET', applied_key, 'held')
        results[j] = halt(j, reason)
      else
        results[j] = number(j)
      end
    end
  end
else
  for j = 1, k do
    if halted then
      stop = 'halted'
      break
    end
    if redis.call('LINDEX', KEYS[K_HELD], 0) ~= arg(j, 9) then
      stop = 'changed'
      break
    end
    local prior = redis.call('GET', KEYS[8 + j])
    if prior and prior ~= 'held' and prior ~= 'parked' then
      -- Numbered before it was held (cannot happen through the step; kept safe anyway).
      redis.call('LPOP', KEYS[K_HELD])
      held_len = held_len - 1
      results[j] = { tonumber(prior), stored_text(tonumber(prior)), 0 }
    else
      local reason = violation(j)
      if reason then
        results[j] = halt(j, reason)
        stop = 'halted'
        break
      end
      redis.call('LPOP', KEYS[K_HELD])
      held_len = held_len - 1
      results[j] = number(j)
    end
  end
end

-- Exact MINID, not '~': the log then holds exactly the window (the earliest number it holds is
-- predictable), and exact trimming costs about what '~' does here: a step trims as many entries as
-- it appended, and Redis frees a macro node once all its entries are gone either way.
if hot_window > 0 then
  local recorded = mode == 'restore' and head or recorded_up_to
  local keep_from = head - hot_window + 1
  if recorded + 1 < keep_from then keep_from = recorded + 1 end
  if keep_from > 0 then
    redis.call('XTRIM', KEYS[K_LOG], 'MINID', string.format('%d-0', keep_from + 1))
  end
end

return { results, { halted and 1 or 0, held_len, stop } }
