/** run.json is read through @resagent/records' RunManifestSchema (resume and merge both read it with readManifest). */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "@resagent/core";
import { RECORD_VERSION } from "@resagent/records";
import { readManifest } from "./index.js";

const manifest = { experiment: "table4", profile: "embedded", configHash: "c", codeHash: "k", recordVersion: RECORD_VERSION, createdAt: "2026-01-01T00:00:00.000Z", complete: true };

function folder(m: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "resagent-manifest-"));
  writeFileSync(join(dir, "run.json"), JSON.stringify(m));
  return dir;
}

describe("readManifest", () => {
  it("reads a run.json of this record version, or of none (written before versioning)", () => {
    expect(readManifest(folder(manifest))).toEqual(manifest);
    const { recordVersion: _v, ...old } = manifest;
    expect(readManifest(folder(old))).toEqual(old);
  });

  it("refuses a newer recordVersion and a missing field, each in one line naming the file and field", () => {
    const newer = folder({ ...manifest, recordVersion: RECORD_VERSION + 1 });
    expect(() => readManifest(newer)).toThrow(InputError);
    expect(() => readManifest(newer)).toThrow(`${join(newer, "run.json")}: recordVersion: written by a newer resagent`);
    const { codeHash: _c, ...noCode } = manifest;
    const missing = folder(noCode);
    expect(() => readManifest(missing)).toThrow(`${join(missing, "run.json")}: codeHash: missing (expected string)`);
  });
});
