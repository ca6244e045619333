import { describe, expect, it } from "vitest";

// The suite's own harness (vitest.file-setup.ts), checked where it runs: every project loads it.
describe("the test harness", () => {
  it("toEqual on integer typed arrays gives the element-wise verdicts, quickly", () => {
    const big = new Uint8Array(1 << 20).map((_, i) => i % 251);
    expect(big.slice()).toEqual(big);
    const other = big.slice();
    other[other.length - 1] = 7;
    expect(other).not.toEqual(big);
    expect(big.subarray(1)).toEqual(big.slice(1));
    expect(new Uint8Array([1, 2])).not.toEqual(new Uint8Array([1, 2, 0]));
    // Another array type, or a Buffer (a Uint8Array subclass), is not equal.
    expect(new Int32Array([1, 2])).not.toEqual(new Uint32Array([1, 2]));
    expect(new Uint8Array([1, 2])).not.toEqual([1, 2]);
    // Inside objects, as masks are compared.
    expect({ width: 2, data: new Uint8Array([0, 1]) }).toEqual({ width: 2, data: new Uint8Array([0, 1]) });
    expect({ width: 2, data: new Uint8Array([0, 1]) }).not.toEqual({ width: 2, data: new Uint8Array([1, 1]) });
    // Float arrays keep the generic rules (NaN equals NaN there).
    expect(new Float32Array([NaN])).toEqual(new Float32Array([NaN]));
  });

});
