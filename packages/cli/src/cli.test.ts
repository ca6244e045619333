/**
 * The `resagent` command line, run in-process on its real argument parsing and handlers: what a
 * user types, what they read back, the files they get and the exit status.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { mkdir, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { decodeImage } from "@resagent/core";
import { linkTestScenes, makeReferFixture, pythonAvailable } from "@resagent/data/testing";
import { tinyDecoder, tinyEncoder } from "@resagent/decoder/testing";
import { startTestServer } from "@resagent/mllm/testing";
import { runCli } from "./cli.js";
import { captureCli } from "./testing.js";

let out: string[] = [];
let err: string[] = [];

/** Run the CLI and return its exit status, with what it printed in `out` / `err`. */
async function cli(...argv: string[]): Promise<number> {
  const run = await captureCli(argv);
  ({ out, err } = run);
  return run.code;
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "resagent-cli-"));
  process.env.RESAGENT_CACHE_DIR = await linkTestScenes(join(tmp, "cache"));
});
/**
 * The command line is under test, not the decoder (graphcut has its own tests): masks are the
 * boxes. Nor the report's pictures (the report tests draw them): a few overlays.
 */
const BOX = ["--set", 'decoder={"name":"box"}', "--max-overlays", "4"];

describe("resagent CLI", () => {
  afterEach(() => vi.restoreAllMocks());

  it("lists experiments, profiles and components", async () => {
    expect(await cli("ls", "experiments")).toBe(0);
    expect(out.join("\n")).toMatch(/table4 +Table 4: Impact of candidate point number K/);
    expect(out.join("\n")).toMatch(/decoders +Decoders:/);
    expect(await cli("ls", "decoders")).toBe(0);
    expect(out.join("\n")).toMatch(/graphcut/);
    expect(out.join("\n")).toMatch(/sam2-onnx/);
  });

  it("answers bad names and unknown commands with one line and status 2", async () => {
    expect(await cli("exp", "tabel4")).toBe(2);
    expect(err.join("\n")).toMatch(/^error: .*no experiment "tabel4"; did you mean "table4"/);
    expect(await cli("exp", "table4", "--profile", "embeded")).toBe(2);
    expect(err.join("\n")).toMatch(/unknown profile "embeded"; did you mean "embedded"/);
    expect(await cli("exp", "table4", "--set", "pipeline.verifer.tau=0.3")).toBe(2);
    expect(err.join("\n")).toMatch(/verifer.*did you mean "verifier"/);
    expect(await cli("exp", "table4", "--shard", "3/2")).toBe(2);
    expect(err.join("\n")).toMatch(/--shard: expected i\/n with 0 <= i < n, got "3\/2"/);
    expect(await cli("frobnicate")).toBe(2);
    expect(err.join("\n")).toMatch(/Unknown argument: frobnicate/);
    // A misspelt bench suite runs nothing and writes nothing.
    const benchOut = join(tmp, "bench.json");
    expect(await cli("bench", "--only", "suit", "--out", benchOut)).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^error: --only: unknown suite "suit"; did you mean "suite"\? \(known: /);
    expect(existsSync(benchOut)).toBe(false);
  });

  it("compare refuses --cell-a or --cell-b alone, naming the missing flag, before reading the runs", async () => {
    expect(await cli("compare", "no-run-a", "no-run-b", "--cell-a", "Tight | box + points")).toBe(2);
    expect(err.join("\n")).toMatch(/^error: .*--cell-a needs --cell-b too/);
    expect(await cli("compare", "no-run-a", "no-run-b", "--cell-b", "Tight | box only")).toBe(2);
    expect(err.join("\n")).toMatch(/^error: .*--cell-b needs --cell-a too/);
  });

  it("validate says all set on the embedded profile, and lists what the real one misses (status 1)", async () => {
    expect(await cli("validate", "table4")).toBe(0);
    expect(out.join("\n")).toMatch(/all set\./);
    const saved = { data: process.env.RESAGENT_DATA_ROOT, sam: process.env.RESAGENT_SAM2_DIR };
    process.env.RESAGENT_DATA_ROOT = join(tmp, "no-data-here");
    delete process.env.RESAGENT_SAM2_DIR;
    try {
      expect(await cli("validate", "table4", "--profile", "real")).toBe(1);
    } finally {
      if (saved.data === undefined) delete process.env.RESAGENT_DATA_ROOT;
      else process.env.RESAGENT_DATA_ROOT = saved.data;
      if (saved.sam !== undefined) process.env.RESAGENT_SAM2_DIR = saved.sam;
    }
    const text = out.join("\n");
    expect(text).toMatch(/MISSING dataset val +refcoco split val, root .*no-data-here \(missing: set RESAGENT_DATA_ROOT\)/);
    expect(text).toMatch(/MISSING preset +@decoder-adapted needs RESAGENT_SAM2_ADAPTED_DIR \(unset\)/);
    expect(text).toMatch(/thing\(s\) missing/);
  });

  it("validate opens the ONNX files: zero-byte or foreign files are missing, not 'all set'", async () => {
    const sam = join(tmp, "zero-byte-sam2");
    await mkdir(sam, { recursive: true });
    await writeFile(join(sam, "sam2.encoder.onnx"), "");
    await writeFile(join(sam, "sam2.decoder.onnx"), "");
    const data = join(tmp, "data-root");
    await mkdir(data, { recursive: true });
    const vars = { RESAGENT_DATA_ROOT: data, RESAGENT_SAM2_DIR: sam, RESAGENT_SAM2_ADAPTED_DIR: sam, RESAGENT_VBR_MODEL: "vbr-lora" };
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    Object.assign(process.env, vars);
    try {
      expect(await cli("validate", "table4", "--profile", "real")).toBe(1);
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    expect(out.join("\n")).toMatch(/MISSING model files +.*sam2\.encoder\.onnx: onnxruntime cannot load the SAM2 encoder/);
  });

  it("validate warns when the SAM2 export has no single-mask output, and not for the resagent export", async () => {
    const data = join(tmp, "data-root-warn");
    await mkdir(data, { recursive: true });
    const run = async (style: "samexporter" | "resagent") => {
      const sam = join(tmp, `sam2-${style}`);
      await mkdir(sam, { recursive: true });
      await writeFile(join(sam, "sam2.encoder.onnx"), tinyEncoder(style));
      await writeFile(join(sam, "sam2.decoder.onnx"), tinyDecoder(style, style === "resagent" ? 4 : 3));
      const vars = { RESAGENT_DATA_ROOT: data, RESAGENT_SAM2_DIR: sam, RESAGENT_SAM2_ADAPTED_DIR: sam, RESAGENT_VBR_MODEL: "vbr-lora" };
      const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
      Object.assign(process.env, vars);
      out.length = 0;
      try {
        return { status: await cli("validate", "table4", "--profile", "real"), text: out.join("\n") };
      } finally {
        for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
    const multi = await run("samexporter");
    expect(multi.text).toMatch(/^WARNING model files +.*samexporter export .*3 mask outputs; warning: no single-mask output.*tools\/export_sam2_onnx\.py/m);
    // A warning, not a missing thing: the run can go ahead.
    expect(multi.status).toBe(0);
    const all4 = await run("resagent");
    expect(all4.text).toMatch(/^ok +model files +.*resagent export .*multimask stability reproduces SAM2's multimask_output=False/m);
    expect(all4.text).not.toMatch(/WARNING/);
  });

  it("exp --dry-run prints every cell's resolved config and the run folder, and runs nothing", async () => {
    const root = join(tmp, "dry");
    expect(await cli("exp", "table4", "--dry-run", "--out", root, "--sweep", "pipeline.verifier.tau=0.5,0.7")).toBe(0);
    const text = out.join("\n");
    expect(text).toMatch(/every cell:\n {4}mllm\.backend = simulated/);
    expect(text).toMatch(/cell "K=2 \| verifier\.tau=0\.7": .*k = 2.*verifier\.tau = 0\.7/);
    expect(text).toMatch(/run folder: .*dry\/table4\/embedded-seed0-n40-[0-9a-f]{10}\ndry run: nothing was run\./);
    expect(existsSync(root)).toBe(false);
    expect(await cli("exp", "table4", "--limit", "abc")).toBe(2);
    expect(err.join("\n")).toMatch(/--limit: expected an integer >= 1, got a non-number/);
  });

  it("a --run-id made by another config is refused; --fresh starts it over", async () => {
    const root = join(tmp, "runid");
    const args = ["exp", "table5", "--limit", "1", "--out", root, "--run-id", "mine", ...BOX];
    expect(await cli(...args)).toBe(0);
    expect(await cli(...args, "--set", "pipeline.verifier.tau=0.6")).toBe(2);
    expect(err.join("\n")).toMatch(/runid\/table5\/mine: this run folder was made by a different configuration .*pass --fresh to discard it, or choose another --run-id/);
    expect(await cli(...args, "--set", "pipeline.verifier.tau=0.6", "--fresh")).toBe(0);
    const summary = JSON.parse(await readFile(join(root, "table5", "mine", "summary.json"), "utf8")) as { cells: Record<string, { pipeline: { verifier: { tau: number } } }> };
    expect(Object.values(summary.cells)[0]!.pipeline.verifier.tau).toBe(0.6);
  });

  it("exp runs, prints the table with its provenance, writes the files, and a rerun resumes", async () => {
    const root = join(tmp, "results");
    // --no-share: this test counts model calls, which records copied from the run-id test's table5 would avoid.
    expect(await cli("exp", "table5", "--limit", "1", "--out", root, "--no-share", ...BOX)).toBe(0);
    const printed = out.join("\n");
    expect(printed).toMatch(/Table 5: .*SIMULATED/);
    expect(printed).toMatch(/<sub>SIMULATED · table5 · profile embedded · seed 0 · ≤1 samples\/dataset/);
    const [run] = (await readdir(join(root, "table5"))).filter((d) => d !== "latest");
    for (const f of ["samples.jsonl", "summary.json", "table.md", "table.csv", "config.resolved.yaml"]) expect(existsSync(join(root, "table5", run!, f))).toBe(true);
    const first = await readFile(join(root, "table5", run!, "samples.jsonl"), "utf8");
    expect(err.at(-1)).toMatch(/^model calls: [1-9]\d* queries, \d+ cache hits, 0 requests sent, 0 retries, 0 gave up; failed attempts: 0 HTTP status, 0 timeout, 0 socket, 0 malformed body, 0 missing logprobs; \d+ abstentions, 0 grounding parse failures, 0 unreadable cache lines skipped$/);
    expect(await cli("exp", "table5", "--limit", "1", "--out", root, "--no-share", ...BOX)).toBe(0);
    expect(err.join("\n")).toMatch(/resumed: \d+ records were already done/);
    expect(err.at(-1)).toMatch(/^model calls: 0 queries/);
    expect(await readFile(join(root, "table5", run!, "samples.jsonl"), "utf8")).toBe(first);
    // One accounting line per invocation, and their sum, in summary.json.
    const { modelCalls } = JSON.parse(await readFile(join(root, "table5", run!, "summary.json"), "utf8")) as { modelCalls: { invocations: { status: string; accounting: { queries: number } }[]; cumulative: { queries: number } } };
    expect(modelCalls.invocations.map((i) => i.status)).toEqual(["done", "done"]);
    expect(modelCalls.invocations[0]!.accounting.queries).toBeGreaterThan(0);
    expect(modelCalls.cumulative.queries).toBe(modelCalls.invocations[0]!.accounting.queries);
  });

  it("a resumed exp says so before its bar, which starts from what was done; without a terminal every line has the elapsed time", async () => {
    const root = join(tmp, "progress");
    const args = ["exp", "table2", "--limit", "2", "--out", root, "--run-id", "p", ...BOX];
    expect(await cli(...args)).toBe(0);
    const file = join(root, "table2", "p", "samples.jsonl");
    const lines = (await readFile(file, "utf8")).split("\n").filter(Boolean);
    const ids = [...new Set(lines.map((l) => (JSON.parse(l) as { id: string }).id))];
    const kept = lines.filter((l) => (JSON.parse(l) as { id: string }).id !== ids.at(-1));
    await writeFile(file, kept.map((l) => `${l}\n`).join(""));
    // stderr as a log file sees it: console lines and progress writes, in order.
    const seen: string[] = [];
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void seen.push(`${a.join(" ")}\n`));
    vi.spyOn(process.stderr, "write").mockImplementation((t: string | Uint8Array) => (seen.push(String(t)), true));
    const tty = Object.getOwnPropertyDescriptor(process.stderr, "isTTY");
    Object.defineProperty(process.stderr, "isTTY", { value: false, configurable: true });
    try {
      expect(await runCli(args)).toBe(0);
    } finally {
      if (tty) Object.defineProperty(process.stderr, "isTTY", tty);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
      vi.restoreAllMocks();
    }
    const text = seen.join("").split("\n");
    const n = ids.length;
    const at = (re: RegExp) => text.findIndex((l) => re.test(l));
    const resumed = at(new RegExp(`^resumed: ${kept.length} records were already done \\(${n - 1} of ${n} samples complete\\)$`));
    const start = at(new RegExp(`^table2 \\[#+\\.*\\] ${n - 1}/${n} \\d+% \\(${n - 1} resumed\\) elapsed 0:00$`));
    const end = at(new RegExp(`^table2 \\[#{24}\\] ${n}/${n} 100% \\(${n - 1} resumed\\) elapsed \\d+:\\d\\d$`));
    expect(resumed, text.join("\n")).toBeGreaterThanOrEqual(0);
    expect(start).toBe(resumed + 1);
    expect(end).toBeGreaterThan(start);
    expect(text.join("\n")).not.toMatch(/\r|ETA 0s|\/s ETA/); // one new sample: no rate, no ETA
  });

  it("shards merge into the same numbers as one run", async () => {
    const root = join(tmp, "shards");
    const args = ["exp", "table2", "--limit", "2", "--out", root, ...BOX];
    expect(await cli(...args, "--run-id", "whole")).toBe(0);
    // --max-overlays: the first samples' pictures, whole samples, and the rest of the cards say why they have none.
    const drawn = (await readdir(join(root, "table2", "whole", "report-assets"))).filter((f) => /^ov-.*\.jpg$/.test(f)).length;
    const records = (await readFile(join(root, "table2", "whole", "samples.jsonl"), "utf8")).trim().split("\n").length;
    expect(drawn).toBeGreaterThan(0);
    expect(drawn).toBeLessThan(records);
    expect(await readFile(join(root, "table2", "whole", "report.html"), "utf8")).toContain("overlays are drawn for the first samples of each dataset up to 4");
    expect(await cli("exp", "table2", "--limit", "2", "--out", root, "--run-id", "whole", "--max-overlays", "-1")).toBe(2);
    expect(err).toEqual(['error: --max-overlays: expected a whole number >= 0 (0 = every overlay), got "-1"']);
    // An empty value (an unset shell variable) is refused, not read as 0 (every overlay); so is the flag given twice.
    expect(await cli("exp", "table2", "--limit", "2", "--out", root, "--run-id", "whole", "--max-overlays=")).toBe(2);
    expect(err).toEqual(['error: --max-overlays: expected a whole number >= 0 (0 = every overlay), got ""']);
    expect(await cli(...args, "--run-id", "whole", "--max-overlays", "9")).toBe(2);
    expect(err).toEqual(["error: --max-overlays: given 2 times (4, 9); give it once"]);
    expect(await cli(...args, "--shard", "0/2", "--run-id", "s0")).toBe(0);
    expect(await cli(...args, "--shard", "1/2", "--run-id", "s1")).toBe(0);
    // Half the shards is refused, naming what is missing, unless asked for; then the table says so.
    expect(await cli("merge", join(root, "table2", "s0"), "--out", join(root, "table2", "half"))).toBe(2);
    expect(err.join("\n")).toMatch(/incomplete shard set: missing shard\(s\) 1\/2; pass --allow-partial/);
    expect(await cli("merge", join(root, "table2", "s0"), "--out", join(root, "table2", "half"), "--allow-partial")).toBe(0);
    expect(await readFile(join(root, "table2", "half", "table.md"), "utf8")).toMatch(/<sub>SIMULATED · PARTIAL: 1 of 2 shards · table2/);
    expect(await cli("merge", join(root, "table2", "s0"), join(root, "table2", "s1"), "--out", join(root, "table2", "merged"))).toBe(0);
    const table = async (id: string) => (await readFile(join(root, "table2", id, "table.csv"), "utf8"));
    expect(await table("merged")).toBe(await table("whole"));
    const calls = (id: string) => (JSON.parse(readFileSync(join(root, "table2", id, "summary.json"), "utf8")) as { modelCalls: { invocations: { run?: string }[]; cumulative: { queries: number } } }).modelCalls;
    expect(calls("merged").invocations.map((i) => i.run)).toEqual([join(root, "table2", "s0"), join(root, "table2", "s1")]);
    expect(calls("merged").cumulative.queries).toBe(calls("s0").cumulative.queries + calls("s1").cumulative.queries);
  });

  it("gen-vbr checks option ranges and refuses to resume a folder made with other options", async () => {
    const out_ = join(tmp, "vbr");
    const base = ["gen-vbr", "--source", "synthref:refcoco/val", "--sheet", "0", "--out", out_];
    expect(await cli(...base, "--max", "3"), err.join("\n")).toBe(0);
    expect(await cli(...base, "--max", "3", "--crop-share", "0.3")).toBe(2);
    expect(err.join("\n")).toMatch(/vbr: this folder was generated with other options \(cropShare: 0\.5 then, 0\.3 now\)/);
    expect(await cli(...base, "--max", "5"), err.join("\n")).toBe(0); // a larger cap resumes the same generation
    expect(await cli(...base, "--max", "3", "--crop-share", "2")).toBe(2);
    expect(err.join("\n")).toMatch(/--crop-share: expected a fraction in \[0, 1\], got 2/);
    expect(await cli(...base, "--max", "0")).toBe(2);
    expect(err.join("\n")).toMatch(/--max: expected an integer >= 1, got 0/);
  });

  it("segment writes a mask, an overlay and the record for one sample", async () => {
    const dir = join(tmp, "segment");
    expect(await cli("segment", "--sample", "synthref:refcoco/val:3", "--out", dir)).toBe(0);
    // Files are named after what was asked, not after the sample's internal id.
    expect((await readdir(dir)).sort()).toEqual(["synthref_refcoco-val_3.json", "synthref_refcoco-val_3.mask.png", "synthref_refcoco-val_3.overlay.png"]);
    expect(await cli("segment", "--sample", "synthref:refcoco/val:3", "--text", "the gray ball", "--cell", "K=2", "--out", dir)).toBe(0);
    expect(existsSync(join(dir, "synthref_refcoco-val_3_the-gray-ball_K=2.overlay.png"))).toBe(true);
    const { asked, simulated, components, record } = JSON.parse(await readFile(join(dir, "synthref_refcoco-val_3.json"), "utf8")) as { asked: Record<string, string>; simulated: string[]; components: Record<string, string>; record: { box: number[]; iou: number } };
    expect(asked).toMatchObject({ sample: "synthref:refcoco/val:3", exp: "table4", cell: "K=4", profile: "embedded" });
    expect(simulated).toEqual(["grounding MLLM", "verifier MLLM", "synthetic scene (synthref)"]);
    expect(out.join("\n")).toMatch(/SIMULATED: grounding MLLM/);
    expect(Object.values(components).join(" ")).toMatch(/simulated/);
    // The overlay: the image at twice its size over a legend panel.
    const overlay = await decodeImage(await readFile(join(dir, "synthref_refcoco-val_3.overlay.png")));
    expect(overlay.width).toBe(2 * 480);
    expect(overlay.height).toBeGreaterThan(2 * 360 + 100);
    expect(record.box).toHaveLength(4);
    expect(record.iou).toBeGreaterThan(0);
    expect(out.join("\n")).toMatch(/IoU \d+\.\d/);
    expect(await cli("segment", "--sample", "synthref:refcoco/val")).toBe(2);
    expect(err.join("\n")).toMatch(/--sample: expected <dataset>:<split>:<index>/);
    expect(await cli("segment", "--sample", "synthref:refcoco/val:99999")).toBe(2);
    expect(err.join("\n")).toMatch(/--sample: synthref:refcoco\/val has 1000 samples \(indices 0-999\), not 99999/);
  });

  it("synthref writes a contact sheet and fig4 its figure with a provenance JSON", async () => {
    const sheet = join(tmp, "sheet.png");
    expect(await cli("synthref", "--split", "refcoco/testB", "--count", "2", "--sheet", sheet)).toBe(0);
    expect(existsSync(sheet)).toBe(true);
    const fig = join(tmp, "fig4");
    expect(await cli("fig4", "--out", fig)).toBe(0);
    for (const ext of ["svg", "png", "json"]) expect(existsSync(`${fig}.${ext}`)).toBe(true);
    expect(JSON.parse(await readFile(`${fig}.json`, "utf8"))).toMatchObject({ figure: "fig4", options: { seed: 0, k: 4 } });
  });

  it.skipIf(!pythonAvailable())("real profile: missing SAM2 files stop the run before any request (2); a server that is down is one line (1) (needs python3 for the REFER fixture)", async () => {
    const data = await makeReferFixture();
    const server = await startTestServer(() => ({ kind: "answer", text: "Yes" }));
    const env = { RESAGENT_DATA_ROOT: data, RESAGENT_MLLM_URL: server.url, RESAGENT_SAM2_DIR: join(data, "no-sam2-here"), RESAGENT_SAM2_ADAPTED_DIR: "", RESAGENT_VBR_MODEL: "" };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      const plain = ["exp", "table4", "--profile", "real", "--limit", "1", "--out", join(tmp, "real"), "--set", "pipeline.mllm.http.retries=0"];
      // No silent fallback: the adapted decoder and the LoRA verifier are unset, so the run stops...
      expect(await cli(...plain)).toBe(2);
      expect(err.join("\n")).toMatch(/cell "K=\d" needs preset @(decoder-adapted|verifier-finetuned), which needs RESAGENT_(SAM2_ADAPTED_DIR|VBR_MODEL) \(unset\); set it, or pass --allow-stand-ins/);
      // ...unless stand-ins are allowed, and then the base SAM2 folder must hold the files.
      const args = [...plain, "--allow-stand-ins"];
      expect(await cli(...args)).toBe(2);
      expect(err.join("\n")).toMatch(/no-sam2-here: decoder.params.dir: SAM2 model folder does not exist/);
      expect(server.requests.length).toBe(0);
      const sam = join(data, "sam2");
      await mkdir(sam);
      await writeFile(join(sam, "sam2.encoder.onnx"), tinyEncoder("ort"));
      await writeFile(join(sam, "sam2.decoder.onnx"), tinyDecoder("ort", 3));
      process.env.RESAGENT_SAM2_DIR = sam;
      // A port that was free a moment ago: nothing listens there.
      const closed = await new Promise<number>((done) => {
        const probe = createServer().listen(0, "127.0.0.1", () => {
          const { port } = probe.address() as AddressInfo;
          probe.close(() => done(port));
        });
      });
      process.env.RESAGENT_MLLM_URL = `http://127.0.0.1:${closed}/v1`;
      expect(await cli(...args)).toBe(1);
      expect(err.join("\n")).toMatch(/^error: MLLM server: http:\/\/127.0.0.1:\d+\/v1 \(model .*\): request failed after 1 attempt\(s\): fetch failed \(ECONNREFUSED/m);
      expect(err.join("\n")).toMatch(/rerun the same command to resume/);

      // A server that answers but never with logprobs: one line naming it and the fix, status 1.
      const mute = await startTestServer((_n, body) =>
        JSON.stringify(body).includes("bounding box") ? { kind: "answer", text: '[{"bbox_2d": [100, 100, 600, 700]}]' } : { kind: "answer", text: "Yes", omitLogprobs: "null" },
      );
      process.env.RESAGENT_MLLM_URL = mute.url;
      const verifier = JSON.stringify({ backend: "openai", cache: "disk", http: { baseUrls: [mute.url], model: "resagent-vbr-lora", retries: 2, backoffMs: 1 } });
      try {
        expect(await cli(...args, "--run-id", "no-logprobs", "--set", `pipeline.verifierMllm=${verifier}`)).toBe(1);
      } finally {
        await mute.close();
      }
      const last = err.at(-1)!;
      expect(last).toMatch(/^error: MLLM server: http:\/\/127\.0\.0\.1:\d+\/v1 \(model resagent-vbr-lora\) returns no logprobs: 3 attempt\(s\) asked for the top-\d+ first-token logprobs and got none\. Fix: .*--max-logprobs.* or set pipeline\.verifier\.aggregation=decoded/);
      expect(last).not.toContain("\n");
      expect(err.at(-2)).toMatch(/^model calls: .* [1-9]\d* missing logprobs;/);
      expect(mute.requests.some((r) => r.body.logprobs === true)).toBe(true);
    } finally {
      await server.close();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
