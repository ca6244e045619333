import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gitCommit } from "./provenance.js";

/** A git repository with one commit of `a.txt`; its HEAD. */
function repo(): { dir: string; head: string } {
  const dir = mkdtempSync(join(tmpdir(), "resagent-git-"));
  const env = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env, encoding: "utf8" }).trim();
  git("init", "-q");
  writeFileSync(join(dir, "a.txt"), "one\n");
  git("add", "a.txt");
  git("commit", "-q", "-m", "one");
  return { dir, head: git("rev-parse", "HEAD") };
}

describe("gitCommit", () => {
  it("names a folder's commit, -dirty with uncommitted changes, once per folder and process", () => {
    const clean = repo();
    expect(gitCommit(clean.dir)).toBe(clean.head);
    // Asked once: a change after the first ask does not change what this process reports.
    writeFileSync(join(clean.dir, "a.txt"), "two\n");
    expect(gitCommit(clean.dir)).toBe(clean.head);
    const dirty = repo();
    writeFileSync(join(dirty.dir, "a.txt"), "two\n");
    expect(gitCommit(dirty.dir)).toBe(`${dirty.head}-dirty`);
    expect(gitCommit(mkdtempSync(join(tmpdir(), "resagent-nogit-")))).toBe("unknown");
  });
});
