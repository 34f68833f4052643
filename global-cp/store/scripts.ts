/**
 * Lua scripts: each write is one script, so it is atomic and checks its
 * preconditions (existence, resourceVersion, quotas, referenced zones) in the
 * same step as it writes — correct with any number of global CP replicas.
 *
 * Documents are built and serialized in TypeScript; Lua only compares and
 * stores strings, and decodes JSON for reading (cjson would re-encode empty
 * arrays as objects, so it never encodes a document).
 *
 * "expect" argument: "create" (must not exist), "exists" (must exist),
 * "any", or "rv:<n>" (must exist with that resourceVersion).
 * Replies are arrays whose first element is a status word.
 *
 * Every committed write also appends to the change stream (<prefix>changes) in
 * the same step: an outbox that federation publishes from in commit order, so
 * nothing committed is lost or reordered on its way to NATS, whichever replica
 * wrote it. Fields: t = tenant ('' for zone writes), r = tenant revision,
 * k = what changed: "tenant", "policy:<Kind>/<name>" or "zone:<name>".
 * A change of the tenant's CA is recorded as "tenant": the publisher then
 * writes the tenant state with the new revision, which is how zones notice.
 */

const PRELUDE = `
local function check_expect(meta_json, expect)
  if expect == 'create' then
    if meta_json then return {'exists'} end
  elseif expect == 'exists' then
    if not meta_json then return {'not-found'} end
  elseif string.sub(expect, 1, 3) == 'rv:' then
    if not meta_json then return {'not-found'} end
    local rv = cjson.decode(meta_json).resourceVersion
    if 'rv:' .. rv ~= expect then return {'precondition', rv} end
  end
  return nil
end

local function record_change(prefix, tenant, rev, what)
  redis.call('XADD', prefix .. 'changes', 'MAXLEN', '~', '100000', '*', 't', tenant, 'r', tostring(rev), 'k', what)
end

local function next_meta(old_meta_json, rv, spec_hash, now)
  local gen = 1
  local created = now
  if old_meta_json then
    local old = cjson.decode(old_meta_json)
    gen = old.generation
    created = old.creationTimestamp
    if old.specHash ~= spec_hash then gen = gen + 1 end
  end
  return '{"resourceVersion":"' .. rv .. '","generation":' .. gen ..
    ',"creationTimestamp":"' .. created .. '","specHash":"' .. spec_hash .. '"}'
end
`;

/** KEYS: zones, zone, zonesRev. ARGV: name, expect, docJson, specHash, now, tokenKey ('' on update), prefix. */
export const PUT_ZONE = `${PRELUDE}
local old_meta = redis.call('HGET', KEYS[2], 'meta')
local failed = check_expect(old_meta, ARGV[2])
if failed then return failed end
if old_meta and redis.call('HGET', KEYS[2], 'doc') == ARGV[3] then return {'unchanged', old_meta} end
local rv = redis.call('INCR', KEYS[3])
local meta = next_meta(old_meta, rv, ARGV[4], ARGV[5])
redis.call('HSET', KEYS[2], 'doc', ARGV[3], 'meta', meta)
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[2], 'tokenKey', ARGV[6])
  redis.call('SET', ARGV[6], ARGV[1])
end
redis.call('SADD', KEYS[1], ARGV[1])
record_change(ARGV[7], '', rv, 'zone:' .. ARGV[1])
if old_meta then return {'updated', meta} end
return {'created', meta}
`;

/** KEYS: zones, zone, zoneTenants. ARGV: name, expect, prefix. */
export const DELETE_ZONE = `${PRELUDE}
local old_meta = redis.call('HGET', KEYS[2], 'meta')
local failed = check_expect(old_meta, ARGV[2])
if failed then return failed end
if not old_meta then return {'not-found'} end
local placed = redis.call('SMEMBERS', KEYS[3])
if #placed > 0 then
  table.sort(placed)
  return {'conflict', unpack(placed)}
end
local token_key = redis.call('HGET', KEYS[2], 'tokenKey')
if token_key then redis.call('DEL', token_key) end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('SREM', KEYS[1], ARGV[1])
record_change(ARGV[3], '', 0, 'zone:' .. ARGV[1])
return {'deleted'}
`;

/**
 * KEYS: tenants, tenant, tenantRev, trustDomain.
 * ARGV: name, expect, docJson, specHash, now, prefix, caJson ('' to keep the CA), zone names…
 * A new tenant's CA (root certificate, sealed key) is stored in the same step, so a tenant never exists without one.
 * A trust domain belongs to one tenant only: sharing one would let a tenant's
 * certificates pass another tenant's trust bundle.
 */
export const PUT_TENANT = `${PRELUDE}
local old_meta = redis.call('HGET', KEYS[2], 'meta')
local failed = check_expect(old_meta, ARGV[2])
if failed then return failed end
local owner = redis.call('GET', KEYS[4])
if owner and owner ~= ARGV[1] then return {'trust-domain-taken', owner} end
local prefix = ARGV[6]
local zones = {}
for i = 8, #ARGV do
  if redis.call('EXISTS', prefix .. 'zone:' .. ARGV[i]) == 0 then return {'unknown-zone', ARGV[i], tostring(i - 8)} end
  zones[ARGV[i]] = true
end
local old_doc = redis.call('HGET', KEYS[2], 'doc')
if old_meta and old_doc == ARGV[3] then return {'unchanged', old_meta} end
if old_doc then
  for _, z in ipairs(cjson.decode(old_doc).spec.zones) do
    if not zones[z] then redis.call('SREM', prefix .. 'zone:' .. z .. ':tenants', ARGV[1]) end
  end
end
for z, _ in pairs(zones) do redis.call('SADD', prefix .. 'zone:' .. z .. ':tenants', ARGV[1]) end
local rv = redis.call('INCR', KEYS[3])
local meta = next_meta(old_meta, rv, ARGV[4], ARGV[5])
redis.call('HSET', KEYS[2], 'doc', ARGV[3], 'meta', meta)
if ARGV[7] ~= '' then redis.call('HSET', KEYS[2], 'ca', ARGV[7]) end
redis.call('SET', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[1], ARGV[1])
record_change(prefix, ARGV[1], rv, 'tenant')
if old_meta then return {'updated', meta} end
return {'created', meta}
`;

/**
 * KEYS: tenant, tenantRev. ARGV: expected caJson, new caJson, prefix, tenant.
 * Compare-and-set of the tenant's CA (roots added, activated, retired): the
 * caller decided the new value from the one it read; if the CA changed
 * meanwhile nothing is written and the caller decides again.
 */
export const REPLACE_TENANT_CA = `${PRELUDE}
if redis.call('HEXISTS', KEYS[1], 'doc') == 0 then return {'tenant-not-found'} end
local current = redis.call('HGET', KEYS[1], 'ca')
if current ~= ARGV[1] then return {'conflict'} end
redis.call('HSET', KEYS[1], 'ca', ARGV[2])
local rv = redis.call('INCR', KEYS[2])
record_change(ARGV[3], ARGV[4], rv, 'tenant')
return {'updated', tostring(rv)}
`;

/** KEYS: tenants, tenant, tenantRev, policies, policyMeta, tenantTokens. ARGV: name, expect, prefix. */
export const DELETE_TENANT = `${PRELUDE}
local old_meta = redis.call('HGET', KEYS[2], 'meta')
local failed = check_expect(old_meta, ARGV[2])
if failed then return failed end
if not old_meta then return {'not-found'} end
local prefix = ARGV[3]
local spec = cjson.decode(redis.call('HGET', KEYS[2], 'doc')).spec
for _, z in ipairs(spec.zones) do
  redis.call('SREM', prefix .. 'zone:' .. z .. ':tenants', ARGV[1])
end
redis.call('DEL', prefix .. 'trust-domain:' .. spec.trustDomain)
for _, hash in ipairs(redis.call('HVALS', KEYS[6])) do redis.call('DEL', prefix .. 'token:' .. hash) end
redis.call('DEL', KEYS[2], KEYS[4], KEYS[5], KEYS[6])
redis.call('SREM', KEYS[1], ARGV[1])
local rv = redis.call('INCR', KEYS[3])
record_change(prefix, ARGV[1], rv, 'tenant')
return {'deleted', tostring(rv)}
`;

/** KEYS: tenant, tenantRev, policies, policyMeta. ARGV: field, expect, docJson, specHash, now, prefix, tenant. */
export const PUT_POLICY = `${PRELUDE}
local tenant_doc = redis.call('HGET', KEYS[1], 'doc')
if not tenant_doc then return {'tenant-not-found'} end
local old_meta = redis.call('HGET', KEYS[4], ARGV[1])
local failed = check_expect(old_meta, ARGV[2])
if failed then return failed end
if old_meta and redis.call('HGET', KEYS[3], ARGV[1]) == ARGV[3] then return {'unchanged', old_meta} end
if not old_meta then
  local max = cjson.decode(tenant_doc).spec.quotas.maxPolicies
  if redis.call('HLEN', KEYS[3]) >= max then return {'quota', tostring(max)} end
end
local rv = redis.call('INCR', KEYS[2])
local meta = next_meta(old_meta, rv, ARGV[4], ARGV[5])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[1], meta)
record_change(ARGV[6], ARGV[7], rv, 'policy:' .. ARGV[1])
if old_meta then return {'updated', meta} end
return {'created', meta}
`;

/** KEYS: tenant, tenantRev, policies, policyMeta. ARGV: field, expect, prefix, tenant. */
export const DELETE_POLICY = `${PRELUDE}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'tenant-not-found'} end
local old_meta = redis.call('HGET', KEYS[4], ARGV[1])
local failed = check_expect(old_meta, ARGV[2])
if failed then return failed end
if not old_meta then return {'not-found'} end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
local rv = redis.call('INCR', KEYS[2])
record_change(ARGV[3], ARGV[4], rv, 'policy:' .. ARGV[1])
return {'deleted', tostring(rv)}
`;

/** KEYS: tenant, tenantTokens, token. ARGV: id, recordJson, expiresAtMs, tokenHash, prefix. */
export const CREATE_TOKEN = `
local tenant_doc = redis.call('HGET', KEYS[1], 'doc')
if not tenant_doc then return {'tenant-not-found'} end
local live = 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if redis.call('EXISTS', ARGV[5] .. 'token:' .. all[i + 1]) == 1 then live = live + 1
  else redis.call('HDEL', KEYS[2], all[i]) end
end
local max = cjson.decode(tenant_doc).spec.quotas.maxTokens
if live >= max then return {'quota', tostring(max)} end
redis.call('SET', KEYS[3], ARGV[2], 'PXAT', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
return {'created'}
`;

/** KEYS: tenantTokens. ARGV: id, prefix. */
export const DELETE_TOKEN = `
local hash = redis.call('HGET', KEYS[1], ARGV[1])
if not hash then return {'not-found'} end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('DEL', ARGV[2] .. 'token:' .. hash) == 0 then return {'not-found'} end
return {'deleted'}
`;
