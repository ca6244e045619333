import { afterAll, expect } from "vitest";

/**
 * Runs before every test file.
 *
 * Test files set environment variables (a cache folder of their own, a model folder, a thread
 * count) and, where a worker runs several files in one process, the next file would see them:
 * each file's changes are undone when it ends.
 */
const saved = { ...process.env };
afterAll(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

/**
 * `toEqual` on integer typed arrays (masks, images) compares their bytes. Its generic walk lists a
 * typed array's keys, one string per element: seconds for a few full-size masks. Same verdict:
 * equal when both are of one integer array type and hold the same elements. Other values, float
 * arrays included (NaN and -0 have rules of their own), go the generic way. Not compared: a
 * property set on a typed array beside its elements (listing them would cost what this saves).
 */
const INTEGER_ARRAYS = [Uint8Array, Uint8ClampedArray, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array] as const;
function integerArrayEquality(a: unknown, b: unknown): boolean | undefined {
  const type = INTEGER_ARRAYS.find((t) => a instanceof t);
  if (!type || !(b instanceof type) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return undefined;
  const x = a as InstanceType<typeof type>;
  const y = b as InstanceType<typeof type>;
  return x.length === y.length && Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}
const KEY = Symbol.for("resagent.test.integer-array-equality");
const state = globalThis as Record<symbol, unknown>;
if (!state[KEY]) {
  expect.addEqualityTesters([integerArrayEquality]);
  state[KEY] = true;
}
