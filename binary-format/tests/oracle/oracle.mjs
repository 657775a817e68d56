#!/usr/bin/env node
// Batch oracle for binary-format/tests/differential_sui.rs.
//
// Wraps @mysten/move-bytecode-template (Sui's own move-binary-format compiled to WebAssembly):
// `deserialize` is Sui's `CompiledModule::deserialize_with_defaults` (max version 7, bounds
// checked, trailing bytes accepted) and `serialize` is `CompiledModule::serialize_with_version`.
//
// Protocol: stdin holds one JSON array of jobs; stdout receives one JSON array of results, in the
// same order. One process serves the whole batch (loading the wasm costs ~50 ms; a job costs
// well under a millisecond).
//
//   {"op":"deserialize","hex":"a11ceb0b..."}  -> {"ok":true,"module":<CompiledModule JSON>}
//   {"op":"serialize","module":<JSON>}        -> {"ok":true,"hex":"a11ceb0b..."}
//   {"op":"roundtrip","hex":"a11ceb0b..."}    -> {"ok":true,"module":<JSON>,"hex":<re-serialized>}
//   {"op":"version"}                          -> {"ok":true,"version":"0.1.1"}
//   any failure                               -> {"ok":false,"status":"INDEX_OUT_OF_BOUNDS"|null,"error":"..."}
//
// JSON conventions (the module JSON is serde's form of Sui's CompiledModule):
//   - u64 and u128 values (LdU64, LdU128, the counts of VecPack and VecUnpack) are written as
//     decimal strings; on input they may be strings, BigInts or safe-integer numbers.
//   - LdU256 is an array of 32 little-endian byte values, as the package uses.
//   - A native function's `code` (undefined in JS) is written as null.
import * as template from '@mysten/move-bytecode-template';

function toJson(value) {
  return JSON.stringify(value, (_key, x) => {
    if (typeof x === 'bigint') return x.toString();
    if (x === undefined) return null;
    if (x instanceof Uint8Array) return Array.from(x);
    return x;
  });
}

function big(x, what) {
  if (typeof x === 'bigint') return x;
  if (typeof x === 'string' && /^[0-9]+$/.test(x)) return BigInt(x);
  if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return BigInt(x);
  throw new Error(`${what}: expected a decimal string or a safe integer, got ${JSON.stringify(x)}`);
}

// Turns the u64/u128 slots of a module JSON back into BigInt, as serde-wasm-bindgen requires for
// u128 (and accepts for u64).
function fromJson(module) {
  for (const def of module?.function_defs ?? []) {
    if (!def.code) continue;
    def.code.code = def.code.code.map((ins) => {
      if (ins === null || typeof ins !== 'object') return ins;
      if ('LdU64' in ins) return { LdU64: big(ins.LdU64, 'LdU64') };
      if ('LdU128' in ins) return { LdU128: big(ins.LdU128, 'LdU128') };
      if ('VecPack' in ins) return { VecPack: [ins.VecPack[0], big(ins.VecPack[1], 'VecPack')] };
      if ('VecUnpack' in ins) return { VecUnpack: [ins.VecUnpack[0], big(ins.VecUnpack[1], 'VecUnpack')] };
      return ins;
    });
  }
  return module;
}

function bytesOf(hex) {
  if (typeof hex !== 'string' || !/^(0x)?([0-9a-fA-F]{2})*$/.test(hex)) {
    throw new Error('hex: expected an even number of hex digits');
  }
  return new Uint8Array(Buffer.from(hex.replace(/^0x/, ''), 'hex'));
}

const hexOf = (bytes) => Buffer.from(bytes).toString('hex');

function failure(e) {
  // The package throws plain objects {message, display}, not Errors; serde errors are strings.
  const message = e && typeof e === 'object' && 'message' in e ? String(e.message) : String(e);
  return { ok: false, status: /status ([A-Z0-9_]+)/.exec(message)?.[1] ?? null, error: message };
}

function run(job) {
  switch (job?.op) {
    case 'deserialize':
      return { ok: true, module: template.deserialize(bytesOf(job.hex)) };
    case 'serialize':
      return { ok: true, hex: hexOf(template.serialize(fromJson(job.module))) };
    case 'roundtrip': {
      const module = template.deserialize(bytesOf(job.hex));
      return { ok: true, module, hex: hexOf(template.serialize(module)) };
    }
    case 'version':
      return { ok: true, version: template.version() };
    default:
      throw new Error(`unknown op ${JSON.stringify(job?.op)}`);
  }
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const jobs = JSON.parse(Buffer.concat(chunks).toString('utf8'));
if (!Array.isArray(jobs)) throw new Error('stdin must hold a JSON array of jobs');

const parts = jobs.map((job) => {
  let result;
  try {
    result = run(job);
  } catch (e) {
    result = failure(e);
  }
  return toJson(result);
});
process.stdout.write('[' + parts.join(',\n') + ']\n');
