/**
 * Lua code run once when the scripting VM is created: the error handler Redis installs
 * (eval.c), redis.pcall on top of a plain pcall, global protection and the read-only library
 * tables. Stock Lua 5.1 has no read-only tables (Redis patches its Lua for that), so protection
 * is done with metatables: globals and every library table are proxies whose __newindex raises
 * Redis's "Attempt to modify a readonly table" and whose metatable is locked.
 *
 * `__nodis` is a table of JS primitives set by the engine before this runs; the prelude
 * captures what it needs in upvalues and removes it from the globals.
 */
export const PRELUDE = `
local nodis = __nodis
__nodis = nil
local rawset, rawget, setmetatable, getmetatable, type, tostring, error, pcall, select =
      rawset, rawget, setmetatable, getmetatable, type, tostring, error, pcall, select
local dbg = debug

function __redis__err__handler(err)
  local level = 2
  local i = dbg.getinfo(level,'nSl')
  -- Skip C frames and nodis's own Lua helpers (Redis raises these from C).
  while i and (i.what == 'C' or i.source == '@nodis_prelude') do
    level = level + 1
    i = dbg.getinfo(level,'nSl')
  end
  if type(err) ~= 'table' then
    err = {err='ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end

-- Redis 7 error objects are tables; pcall hands scripts the message, as Redis's own pcall does.
local function pcall_result(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'table' then
    -- lua_isstring: a number is a string too.
    local t = type(e.err)
    if t == 'string' or t == 'number' then e = e.err end
  end
  return false, e
end
local function redis_pcall(f, ...)
  return pcall_result(pcall(f, ...))
end
-- The global, not the local above (which redis_pcall itself calls: the builtin).
rawset(_G, 'pcall', redis_pcall)

loadfile = nil
dofile = nil
print = nil

-- Redis's Lua has no bytecode loader (f_parser always parses text), so a binary chunk fails
-- as the text parser fails on its first byte. Stock Lua would load it; these wrappers refuse.
do
  local rawloadstring, concat, sbyte, smatch = loadstring, table.concat, string.byte, string.match
  local function chunkid(source)
    local first = smatch(source, '^[^%z]*')
    if sbyte(first, 1) == 61 then return string.sub(first, 2, 60) end  -- '=name'
    local line = smatch(first, '^[^\\n\\r]*')
    if #line > 43 then line = string.sub(line, 1, 43) end
    if #line < #first then return '[string "' .. line .. '..."]' end
    return '[string "' .. line .. '"]'
  end
  local function guarded(s, chunkname)
    if sbyte(s, 1) == 27 then
      return nil, chunkid(chunkname or s) .. ":1: unexpected symbol near 'char(27)'"
    end
    return rawloadstring(s, chunkname)
  end
  loadstring = function(s, chunkname)
    if type(s) ~= 'string' then return rawloadstring(s, chunkname) end
    return guarded(s, chunkname)
  end
  load = function(reader, chunkname)
    if type(reader) ~= 'function' then return rawloadstring(reader, chunkname) end
    local parts = {}
    while true do
      local piece = reader()
      if piece == nil or piece == '' then break end
      if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
      parts[#parts + 1] = piece
    end
    return guarded(concat(parts), chunkname or '=(load)')
  end
end

local function ro_error()
  error('Attempt to modify a readonly table', 2)
end

-- Every read-only proxy. setmetatable on one, or a write to what getmetatable returns for one,
-- fails as writing to a Redis read-only table does (its metatables are read-only too).
local readonly = setmetatable({}, {__mode = 'k'})
local readonly_meta = setmetatable({}, {__newindex = ro_error, __metatable = false})
local function lock(p)
  readonly[p] = true
  return p
end

local function protect(t)
  return lock(setmetatable({}, {__index = t, __newindex = ro_error, __metatable = false}))
end

rawset(_G, 'setmetatable', function(t, mt)
  -- Level 0: Redis raises this from C, so the message carries no position.
  if readonly[t] then error('Attempt to modify a readonly table', 0) end
  return setmetatable(t, mt)
end)
rawset(_G, 'getmetatable', function(t)
  if readonly[t] then return readonly_meta end
  return getmetatable(t)
end)

for _, name in ipairs({'redis', 'string', 'table', 'math', 'debug', 'coroutine', 'cjson', 'bit', 'struct', 'cmsgpack'}) do
  local lib = rawget(_G, name)
  if lib ~= nil then rawset(_G, name, protect(lib)) end
end

-- Globals: reading a missing one and writing any are errors (7.0's readonly globals). Scripts
-- see a proxy whose __index is the globals table itself, so reading a global that exists
-- (redis, KEYS, ARGV, string…) is two table lookups, not a Lua function call; only a missing
-- one reaches the globals' own __index (as in Redis, where the error metatable is on the
-- globals). KEYS and ARGV read as nil before the first EVAL sets them.
local G = _G
setmetatable(G, {
  __index = function(_, k)
    if k ~= 'KEYS' and k ~= 'ARGV' then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
  end,
})
local gproxy = setmetatable({}, {
  __index = G,
  __newindex = ro_error,
  __metatable = false,
})
lock(gproxy)
rawset(G, '_G', gproxy)

-- Function libraries: while FUNCTION LOAD runs a library its globals are only the library API
-- (a 'redis' with register_function, log and the version); afterwards the same environment,
-- which the library's functions keep, resolves to the normal globals (function_lua.c).
local function missing(k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 3)
end
local load_redis_api = nodis.load_redis
local load_redis = lock(setmetatable({}, {
  __index = function(_, k)
    local v = rawget(load_redis_api, k)
    if v == nil then missing(k) end
    return v
  end,
  __newindex = ro_error,
  __metatable = false,
}))
local loading = false
local fproxy = setmetatable({}, {
  __index = function(_, k)
    if loading then
      if k == 'redis' then return load_redis end
      missing(k)
    end
    local v = rawget(G, k)
    if v == nil and k ~= 'KEYS' and k ~= 'ARGV' then missing(k) end
    return v
  end,
  __newindex = ro_error,
  __metatable = false,
})
lock(fproxy)
nodis.setenv(gproxy, fproxy, function(on) loading = on end)
`;
