/**
 * tools/setup-gpu.sh (`pnpm setup:gpu`) cannot run here (no GPU, no nuget.org). What it checks
 * before installing can: it runs with a PATH of its own, where nvidia-smi, ldconfig, curl and pnpm are
 * stand-ins answering as a machine without a driver, without CUDA or without internet would.
 */
import { spawnSync } from "node:child_process";
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SCRIPT = join(ROOT, "tools", "setup-gpu.sh");
const sandboxes: string[] = [];
afterAll(() => sandboxes.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * Where `cmd` is on our PATH ("" when nowhere), looked up here rather than by a shell per tool: every
 * setup needs eight tools, and in full suite runs from a fresh clone these setups were seen taking
 * seconds each, most of it before the script ran.
 */
function which(cmd: string): string {
  for (const dir of (process.env.PATH ?? "").split(":").filter(Boolean)) {
    const path = join(dir, cmd);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      // not here
    }
  }
  return "";
}

interface Fakes {
  /** nvidia-smi's output and status; absent: no nvidia-smi at all. */
  smi?: { out: string; status: number };
  /** Libraries the fake loader cache lists. */
  libs?: string[];
  /** curl's status and message per URL prefix (default: answers). */
  offline?: boolean;
}

/** Run the script on a PATH holding only what it needs, plus the stand-ins. */
function setup(fakes: Fakes, ...args: string[]) {
  const bin = mkdtempSync(join(tmpdir(), "resagent-setup-gpu-"));
  sandboxes.push(bin);
  for (const tool of ["bash", "dirname", "grep", "sed", "awk", "uname", "cat", "env"]) {
    const path = which(tool);
    if (path) symlinkSync(path, join(bin, tool));
  }
  symlinkSync(process.execPath, join(bin, "node"));
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  if (fakes.smi) script("nvidia-smi", `cat <<'OUT'\n${fakes.smi.out}\nOUT\nexit ${fakes.smi.status}`);
  script("ldconfig", (fakes.libs ?? []).map((l) => `printf '\\t%s (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/%s\\n' ${l} ${l}`).join("\n") || "true");
  // pnpm is asked only for its registry (the installs are --dry-run here); a stand-in answers in
  // milliseconds where pnpm itself takes most of a second to start.
  script("pnpm", `if [ "$*" = "config get registry" ]; then echo https://registry.npmjs.org/; else echo "pnpm stand-in: $*" >&2; exit 1; fi`);
  script("curl", fakes.offline ? `for a; do u=$a; done; host=$(echo "$u" | sed 's#https://##; s#/.*##'); echo "curl: (6) Could not resolve host: $host" >&2; exit 6` : "exit 0");
  const r = spawnSync("bash", [SCRIPT, ...args], { cwd: ROOT, encoding: "utf8", env: { PATH: bin, HOME: process.env.HOME ?? "/root", LD_LIBRARY_PATH: "" } });
  return { status: r.status, out: r.stdout, err: r.stderr.trim() };
}

const GPU = { out: "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0c2f)", status: 0 };
const CUDA = ["libcudart.so.12", "libcudnn.so.9"];

describe("pnpm setup:gpu refuses clearly where it cannot work", { timeout: 180_000 }, () => {
  it("without an NVIDIA driver", () => {
    const r = setup({});
    expect(r.status).toBe(1);
    expect(r.err).toBe("setup:gpu: no nvidia-smi on PATH: this machine has no NVIDIA driver, so there is no GPU to set up (the CPU setup needs nothing more)");
  });

  it("when nvidia-smi cannot talk to the driver, or lists no GPU", () => {
    const broken = setup({ smi: { out: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", status: 9 } });
    expect(broken.status).toBe(1);
    expect(broken.err).toBe("setup:gpu: nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. (is the NVIDIA driver loaded?)");
    const none = setup({ smi: { out: "No devices found.", status: 0 } });
    expect(none.err).toMatch(/^setup:gpu: nvidia-smi lists no GPU/);
  });

  it("without CUDA 12 or cuDNN 9", () => {
    const noCuda = setup({ smi: GPU });
    expect(noCuda.status).toBe(1);
    expect(noCuda.err).toMatch(/^setup:gpu: no CUDA 12 runtime \(libcudart\.so\.12 .*\): onnxruntime-node's CUDA provider needs CUDA 12\.x/);
    const noCudnn = setup({ smi: GPU, libs: ["libcudart.so.12"] });
    expect(noCudnn.err).toMatch(/^setup:gpu: no cuDNN 9 \(libcudnn\.so\.9/);
    expect(noCudnn.err.split("\n")).toHaveLength(1);
  });

  it("without internet", () => {
    const r = setup({ smi: GPU, libs: CUDA, offline: true });
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/^setup:gpu: cannot reach https:\/\/api\.nuget\.org\/v3\/index\.json \(curl: \(6\) Could not resolve host: api\.nuget\.org\): the CUDA provider comes from nuget\.org/);
  });

  it("where everything is in place, runs onnxruntime-node's own installer for CUDA 12, adds tfjs-node-gpu at the tfjs version, then doctor (--dry-run prints them)", () => {
    const r = setup({ smi: GPU, libs: CUDA }, "--dry-run");
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    const ort = dirname(fileURLToPath(import.meta.resolve("onnxruntime-node/package.json", `file://${join(ROOT, "packages", "decoder")}/`)));
    const commands = r.out.split("\n").filter((l) => l.startsWith("+ "));
    expect(commands).toEqual([
      `+ node ${ort}/script/install.js --onnxruntime-node-install=cuda12`,
      expect.stringMatching(/^\+ pnpm --filter @resagent\/learned add --save-optional --allow-build=@tensorflow\/tfjs-node-gpu @tensorflow\/tfjs-node-gpu@\d+\.\d+\.\d+$/),
      "+ pnpm resagent doctor --provider cuda",
    ]);
    expect(r.out).toContain("setup:gpu: GPU: GPU 0: NVIDIA H100 80GB HBM3");
    // What it does not need but can tell: TensorRT and tfjs-node-gpu's older CUDA.
    expect(r.out).toMatch(/no TensorRT 10 \(libnvinfer\.so\.10\): decoder\.params\.provider: tensorrt will not load/);
    expect(r.out).toMatch(/no CUDA 11 runtime/);
  });

  it("finds a library early in a long loader cache (the list is read whole: no SIGPIPE under pipefail)", () => {
    // Far more than a pipe holds after the match: a reader that stopped at the match would leave ldconfig writing into a closed pipe.
    const filler = Array.from({ length: 4000 }, (_, i) => `libfiller${i}.so.1`);
    const r = setup({ smi: GPU, libs: [...CUDA, ...filler] }, "--dry-run");
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
  });

  it("takes --dry-run and --help only", () => {
    expect(setup({}, "--force")).toMatchObject({ status: 2, err: "setup:gpu: unknown option --force (expected --dry-run)" });
    expect(setup({}, "--help").out).toMatch(/^pnpm setup:gpu/);
  });

  it("is shellcheck-clean (where shellcheck is installed)", (ctx) => {
    const sc = which("shellcheck");
    if (!sc) ctx.skip("no shellcheck (apt-get install -y shellcheck)");
    const r = spawnSync(sc, [SCRIPT], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
