import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ComponentRegistry, InputError, Registry } from "./index.js";

describe("Registry", () => {
  it("fails on an unknown name with the known ones and a did-you-mean, naming the config field", () => {
    const r = new Registry<number>("dataset", "dataset.name").register("synthref", 1).register("refcoco", 2);
    expect(r.get("refcoco")).toBe(2);
    expect(() => r.get("synthrf")).toThrow(InputError);
    expect(() => r.get("synthrf")).toThrow('dataset.name: unknown dataset "synthrf"; did you mean "synthref"? (known: synthref, refcoco)');
    expect(() => r.get("nothing", " (a hint)")).toThrow(/known: synthref, refcoco \(a hint\)$/);
  });

  it("refuses a second registration of a name instead of replacing the first", () => {
    const r = new Registry<number>("sampler", "sampler.name").register("grid", 1);
    expect(() => r.register("grid", 2)).toThrow('sampler "grid" is registered twice');
    expect(r.get("grid")).toBe(1);
  });
});

describe("ComponentRegistry", () => {
  const made: unknown[] = [];
  const r = new ComponentRegistry<string>("decoder").add("thing", {
    description: "a test component",
    params: z.strictObject({ size: z.number().int().min(1).describe("how big").default(3), mode: z.enum(["a", "b"]).default("a") }),
    create: (p) => {
      made.push(p);
      return `thing ${p.size} ${p.mode}`;
    },
  });

  it("creates from parameters as written: parsed by the component's schema, defaults filled in", () => {
    expect(r.create("thing", { size: 5 })).toBe("thing 5 a");
    expect(r.create("thing")).toBe("thing 3 a");
    // What `resagent ls` shows: each parameter with its default and description, from the schema.
    expect(r.describe()).toEqual([{ name: "thing", description: "a test component", params: [{ name: "size", default: 3, description: "how big" }, { name: "mode", default: "a" }] }]);
  });

  it("names the parameter a bad value or a typo is at", () => {
    expect(() => r.create("thing", { sise: 5 })).toThrow('decoder.params.sise: unknown key "sise"; did you mean "size"? (known: size, mode)');
    expect(() => r.create("thing", { size: 0 })).toThrow("decoder.params.size: expected a number >= 1, got 0");
    expect(() => r.create("thin")).toThrow('decoder.name: unknown decoder "thin"; did you mean "thing"?');
  });

  it("builds from parameters parsed already, without parsing them again", () => {
    made.length = 0;
    const parsed = r.parse("thing", { mode: "b" });
    expect(r.build("thing", parsed)).toBe("thing 3 b");
    expect(made[0]).toBe(parsed);
  });
});
