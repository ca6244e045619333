import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gitCommit } from "./provenance.js";

const made: string[] = [];
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
};

/** A git repository (in `dir`, default a new folder) with one commit of `a.txt`; its HEAD. The user's git settings (signing, hooks) stay out. */
function repo(dir = tmp("resagent-git-")): { dir: string; head: string } {
  const env = { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };
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
    // A folder named relative to the working directory is the same folder.
    expect(gitCommit(relative(process.cwd(), dirty.dir))).toBe(`${dirty.head}-dirty`);
    const none = tmp("resagent-nogit-");
    expect(gitCommit(none)).toBe("unknown");
    // Not an answer to keep: asked again once the folder is a repository.
    const later = repo(none);
    expect(gitCommit(none)).toBe(later.head);
  });
});
