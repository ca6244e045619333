import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, statfsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { openDataset } from "@resagent/data";
import { GPU_SETUP_HINT, Sam2OnnxDecoder, parseSam2Params, ortVersion, probeProviders, type ProviderProbe, type Sam2Provider } from "@resagent/decoder";
import { ENV_REFERENCE, findRoot, profileEnvironment, readYaml, type ProfileVariable } from "@resagent/experiments";
import { planTfBackend, systemProbe, type TfPackage } from "@resagent/learned";
import { probeEndpoint, type ProbeResult } from "@resagent/mllm";
import type { CommandModule } from "yargs";
import { findOpenCvPython } from "../bench/opencv.js";
import { ExitStatus } from "../exit-status.js";

/** A program's exit status and output; `undefined` from Machine.run when it could not be started. */
export interface RunOutput {
  status: number | null;
  stdout: string;
}

/**
 * Everything doctor asks of the machine, so a test can run it against a faked one: environment,
 * files, programs, onnxruntime's providers, GPUs, TensorFlow.js packages, disk, model files,
 * datasets and model servers.
 */
export interface Machine {
  env: Readonly<Record<string, string | undefined>>;
  nodeVersion: string;
  exists(path: string): boolean;
  isDirectory(path: string): boolean;
  run(command: string, args: readonly string[]): RunOutput | undefined;
  ortVersion(): string;
  /** Each provider the SAM2 decoder offers, tried (a session opened on it alone). */
  ortProviders(): Promise<ProviderProbe[]>;
  /** Whether an NVIDIA GPU is visible to this process, and what says so. */
  gpu(): { visible: boolean; detail: string };
  tfInstalled(pkg: TfPackage): boolean;
  /** Free bytes on the file system holding `path` (or its nearest existing parent). */
  freeBytes(path: string): number | undefined;
  /** The SAM2 decoder's own one-line account of an export folder (throws what it cannot open). */
  sam2Export(dir: string): Promise<string>;
  /** refs / sentences / images of a dataset split (throws when it cannot be read). */
  datasetStats(name: string, split: string, root: string): Promise<Record<string, number>>;
  probeEndpoint(endpoint: { baseUrls: string[]; model: string; apiKeyEnv?: string }): Promise<ProbeResult>;
}

export type Status = "ok" | "MISSING" | "WARNING" | "note";
export interface DoctorLine {
  status: Status;
  what: string;
  detail: string;
}

export interface DoctorOptions {
  profile: string;
  probe: boolean;
  /** The execution provider the user means to run SAM2 on (default: what the profile sets, else cpu). */
  provider?: Sam2Provider;
  root: string;
}

/**
 * Published evaluation sizes (refs / sentences) of the REFER splits: a download that is cut short
 * or of another splitBy shows up against them.
 */
const REFER_SIZES: Record<string, [number, number]> = {
  "refcoco/val": [3811, 10834],
  "refcoco/testA": [1975, 5657],
  "refcoco/testB": [1810, 5095],
  "refcoco+/val": [3805, 10758],
  "refcoco+/testA": [1975, 5726],
  "refcoco+/testB": [1798, 4889],
  "refcocog/val": [2573, 4896],
  "refcocog/test": [5023, 9602],
};
const REASONSEG_IMAGES: Record<string, number> = { train: 239, val: 200, test: 779 };

const GiB = 1024 ** 3;

function walk(v: unknown, visit: (key: string, value: unknown) => void): void {
  if (Array.isArray(v)) v.forEach((x) => walk(x, visit));
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      visit(k, x);
      walk(x, visit);
    }
  }
}

/** `${VAR}` / `${VAR:-default}` as the config loader expands them, from the machine's environment. */
function expand(s: string, env: Machine["env"]): { value: string; unset: string[] } {
  const unset: string[] = [];
  const value = s.replace(ENV_REFERENCE, (whole, name: string, def?: string) => {
    const v = env[name];
    if (v !== undefined && v !== "") return v;
    if (def !== undefined) return def;
    unset.push(name);
    return whole;
  });
  return { value, unset };
}

function versionAtLeast(have: string, want: string): boolean {
  const a = have.replace(/^v/, "").split(".").map(Number);
  const b = want.split(".").map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

const gib = (n: number) => `${(n / GiB).toFixed(1)} GiB`;

/**
 * Check the machine for what a profile needs, one line each. Needed and absent is MISSING (and
 * the exit status 1), with the fix; useful but optional is a note; present but doubtful a WARNING.
 * validate checks an experiment's cells; doctor checks the machine they would run on.
 */
export async function runDoctor(m: Machine, opts: DoctorOptions): Promise<DoctorLine[]> {
  const lines: DoctorLine[] = [];
  const add = (status: Status, what: string, detail: string) => lines.push({ status, what, detail });
  const { file: profileFile, variables, defaultPresets } = profileEnvironment(opts.profile, opts.root);
  const profile = readYaml(profileFile);
  const pkg = JSON.parse(readFileSync(join(opts.root, "package.json"), "utf8")) as { engines?: { node?: string }; packageManager?: string };
  const presets = (profile.presets ?? {}) as Record<string, unknown>;
  const runs = { defaults: profile.defaults, ...Object.fromEntries(defaultPresets.map((p) => [p, presets[p]])) };

  // Node and pnpm, as package.json pins them.
  const wantNode = /(\d+(?:\.\d+)*)/.exec(pkg.engines?.node ?? "")?.[1] ?? "20";
  if (versionAtLeast(m.nodeVersion, wantNode)) add("ok", "node", `${m.nodeVersion} (package.json engines: node ${pkg.engines?.node ?? ">=20"})`);
  else add("MISSING", "node", `${m.nodeVersion} is older than package.json's engines (node ${pkg.engines?.node}); install Node ${wantNode} or newer`);
  const wantPnpm = /^pnpm@(.+)$/.exec(pkg.packageManager ?? "")?.[1];
  const pnpm = m.run("pnpm", ["--version"]);
  const pnpmVersion = pnpm?.status === 0 ? pnpm.stdout.trim() : undefined;
  if (!pnpmVersion) add("MISSING", "pnpm", `not found; install it with \`corepack enable\` or \`npm i -g pnpm@${wantPnpm ?? "10"}\``);
  else if (wantPnpm && pnpmVersion !== wantPnpm) add("WARNING", "pnpm", `${pnpmVersion}, but package.json pins pnpm@${wantPnpm} (\`npm i -g pnpm@${wantPnpm}\`); the lockfile was written by that version`);
  else add("ok", "pnpm", pnpmVersion);

  // onnxruntime-node: every provider the SAM2 decoder offers, tried.
  let usesSam2 = false;
  let profileProvider: string | undefined;
  walk(runs, (k, v) => {
    if (k === "name" && v === "sam2-onnx") usesSam2 = true;
    if (k === "provider" && typeof v === "string") profileProvider = v;
  });
  const provider = opts.provider ?? (profileProvider as Sam2Provider | undefined) ?? "cpu";
  const probes = await m.ortProviders();
  const ort = `onnxruntime-node ${m.ortVersion()}`;
  for (const p of probes) {
    // Asked for with --provider, it is needed whatever the profile decodes with (setup:gpu's check).
    const needed = p.name === provider && (usesSam2 || opts.provider !== undefined);
    const why = !needed ? "" : usesSam2 ? ` (the SAM2 decoder of profile ${opts.profile} runs on ${provider}${opts.provider ? ", --provider" : ""})` : ` (--provider ${provider})`;
    if (p.usable) add("ok", `ort ${p.name}`, `${ort}: ${p.detail}${why}`);
    else if (p.name === "cpu") add(needed ? "MISSING" : "note", "ort cpu", `${ort}: ${p.detail}; reinstall with \`pnpm install --frozen-lockfile\``);
    else add(needed ? "MISSING" : "note", `ort ${p.name}`, `${ort}: ${p.offered ? p.detail : "not offered by this build"}${why}; ${GPU_SETUP_HINT}`);
  }

  // GPU: needed by a GPU provider; for the rest it only makes tfjs faster.
  const gpu = m.gpu();
  const gpuNeeded = provider !== "cpu" && (usesSam2 || opts.provider !== undefined);
  if (gpu.visible) add("ok", "gpu", gpu.detail);
  else add(gpuNeeded ? "MISSING" : "note", "gpu", `none visible (${gpu.detail})${gpuNeeded ? `; the ${provider} provider needs one` : "; the embedded profile and a remote model server need none"}`);

  // TensorFlow.js: the backend the learned models would load, and why the faster ones would not.
  try {
    const plan = planTfBackend({ installed: (p) => m.tfInstalled(p), gpu: () => gpu.visible, forced: m.env.RESAGENT_TFJS });
    const first = plan.order[0]!;
    const fallback = plan.order.length > 1 ? ` (then ${plan.order.slice(1).join(", ")} if it fails to load)` : "";
    add("ok", "tfjs", `would load ${first}${fallback}${plan.reasons.length ? ` because ${plan.reasons.join("; ")}` : ""}${first === "@tensorflow/tfjs-node-gpu" ? "" : "; GPU: `pnpm setup:gpu` adds @tensorflow/tfjs-node-gpu"}`);
  } catch (err) {
    add("MISSING", "tfjs", (err as Error).message);
  }

  // Tools some tests and benches use; none is needed to run an experiment.
  const chromium = m.env.RESAGENT_CHROMIUM ?? "/usr/bin/chromium";
  if (m.exists(chromium)) add("ok", "chromium", `${chromium} (the report's browser test runs)`);
  else add("note", "chromium", `no ${chromium}: the report's browser test is skipped (apt-get install -y chromium, or set RESAGENT_CHROMIUM)`);
  const cv = findOpenCvPython(m.env, (c, a) => m.run(c, a)?.status ?? null);
  if ("python" in cv) add("ok", "opencv", `${cv.python} has cv2 (the opencv bench runs)`);
  else add("note", "opencv", `${cv.reason}: the opencv bench is skipped`);
  const pythons = [m.env.RESAGENT_PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => !!p);
  const torch = pythons.find((p) => m.run(p, ["-c", "import torch, onnx"])?.status === 0);
  if (torch) add("ok", "torch", `${torch} has torch and onnx (tools/export_sam2_onnx.py can run)`);
  else add("note", "torch", `no python with torch and onnx among ${pythons.join(", ")}: needed only to export SAM2 (tools/export_sam2_onnx.py; Debian: apt-get install -y python3-torch python3-torchvision python3-onnx)`);

  // The profile's environment variables: set or not, and what they point at.
  for (const v of variables) await checkVariable(m, opts, v, add);

  // Model servers the profile's runs would contact.
  await checkEndpoints(m, opts, profile, defaultPresets, add);

  // Where results and caches are written.
  const cache = m.env.RESAGENT_CACHE_DIR ? resolve(m.env.RESAGENT_CACHE_DIR) : join(opts.root, ".cache");
  for (const [what, dir] of [
    ["disk results", join(opts.root, "results")],
    ["disk cache", cache],
  ] as const) {
    const free = m.freeBytes(dir);
    if (free === undefined) add("note", what, `${dir}: free space unknown`);
    else if (free < 2 * GiB) add("WARNING", what, `${dir}: ${gib(free)} free (runs write samples.jsonl, the MLLM response cache and plots; SAM2 exports take about 1 GiB)`);
    else add("ok", what, `${dir}: ${gib(free)} free`);
  }
  return lines;
}

type Add = (status: Status, what: string, detail: string) => void;

async function checkVariable(m: Machine, opts: DoctorOptions, v: ProfileVariable, add: Add): Promise<void> {
  const set = m.env[v.name] !== undefined && m.env[v.name] !== "";
  const def = v.uses.find((u) => u.default !== undefined)?.default;
  const value = set ? m.env[v.name]! : def;
  const who = v.required ? `every run of profile ${opts.profile}` : `experiments ${v.experiments.join(", ") || "(none)"} (presets ${v.presets.map((p) => `@${p}`).join(", ")})`;
  const kind = kindOf(v);
  if (value === undefined) {
    const fix = { data: "the folder holding refer_seg/ and reason_seg/", sam2: "a folder with the encoder and decoder .onnx files of tools/export_sam2_onnx.py", url: "the server's OpenAI-compatible base URL, e.g. http://localhost:8000/v1", model: "the served model name the server lists under /v1/models", other: "its value" }[kind];
    const standIn = v.required ? "" : "; without it `--allow-stand-ins` runs the declared stand-ins and the tables say so";
    add(v.required ? "MISSING" : "note", v.name, `unset; needed by ${who}: set it to ${fix}${standIn}`);
    return;
  }
  const shown = set ? value : `${value} (unset: the profile's default)`;
  if (kind === "data" || kind === "sam2") {
    const dir = isAbsolute(value) ? value : resolve(value);
    if (!m.isDirectory(dir)) {
      add(set || v.required ? "MISSING" : "note", v.name, `${shown}: no such folder (${dir}); needed by ${who}`);
      return;
    }
    if (kind === "sam2") {
      try {
        const detail = await m.sam2Export(dir);
        add(/\bwarning:/.test(detail) ? "WARNING" : "ok", v.name, detail);
      } catch (err) {
        add("MISSING", v.name, `${dir}: ${(err as Error).message}`);
      }
      return;
    }
    add("ok", v.name, `${shown}`);
    await checkDatasets(m, opts, v, dir, add);
    return;
  }
  if (kind === "url") {
    try {
      new URL(value);
      add("ok", v.name, `${shown}${opts.probe ? "" : " (not contacted; --probe does)"}`);
    } catch {
      add("MISSING", v.name, `${shown} is not a URL (expected e.g. http://localhost:8000/v1)`);
    }
    return;
  }
  add("ok", v.name, shown);
}

function kindOf(v: ProfileVariable): "data" | "sam2" | "url" | "model" | "other" {
  const paths = v.uses.map((u) => u.path);
  if (paths.some((p) => /^datasets\..+\.root$/.test(p))) return "data";
  if (paths.some((p) => /\.params\.dir$/.test(p))) return "sam2";
  if (paths.some((p) => /\.baseUrls\[\d+\]$/.test(p))) return "url";
  if (paths.some((p) => /\.http\.model$/.test(p))) return "model";
  return "other";
}

/** The profile's datasets under this root, read as a run reads them, against the published sizes. */
async function checkDatasets(m: Machine, opts: DoctorOptions, v: ProfileVariable, dir: string, add: Add): Promise<void> {
  const profile = readYaml(join(opts.root, "configs", "profiles", `${opts.profile}.yaml`));
  const datasets = (profile.datasets ?? {}) as Record<string, { name: string; split: string; root?: string }>;
  for (const [id, ref] of Object.entries(datasets)) {
    if (typeof ref.root !== "string" || !ref.root.includes(`\${${v.name}`)) continue;
    try {
      const stats = await m.datasetStats(ref.name, ref.split, dir);
      const text = Object.entries(stats).map(([k, n]) => `${n} ${k}`).join(", ");
      const refer = REFER_SIZES[`${ref.name}/${ref.split}`];
      const images = ref.name === "reasonseg" ? REASONSEG_IMAGES[ref.split] : undefined;
      const off = refer ? stats.refs !== refer[0] || stats.sentences !== refer[1] : images !== undefined && stats.images !== images;
      const published = refer ? `${refer[0]} refs, ${refer[1]} sentences` : `${images} images`;
      add(off ? "WARNING" : "ok", `data ${id}`, off ? `${text}; published: ${published} (another splitBy, or a partial download?)` : text);
    } catch (err) {
      add("MISSING", `data ${id}`, `${(err as Error).message.split("\n")[0]}`);
    }
  }
}

/**
 * The model servers the profile's runs use (its defaults: needed) and its presets name
 * (optional): listed, and with --probe contacted as validate --probe does.
 */
async function checkEndpoints(m: Machine, opts: DoctorOptions, profile: Record<string, unknown>, defaultPresets: string[], add: Add): Promise<void> {
  const found = new Map<string, { baseUrls: string[]; model: string; apiKeyEnv?: string; needed: boolean; where: string[] }>();
  const collect = (section: unknown, where: string, needed: boolean) =>
    walk(section, (k, http) => {
      if (k !== "http" || !http || typeof http !== "object") return;
      const h = http as { baseUrls?: unknown; model?: unknown; apiKeyEnv?: unknown };
      if (!Array.isArray(h.baseUrls) || typeof h.model !== "string") return;
      const urls = h.baseUrls.map((u) => expand(String(u), m.env));
      const model = expand(h.model, m.env);
      if (model.unset.length || urls.some((u) => u.unset.length)) return; // reported with its variable
      const key = JSON.stringify([urls.map((u) => u.value), model.value]);
      const e = found.get(key) ?? { baseUrls: urls.map((u) => u.value), model: model.value, ...(typeof h.apiKeyEnv === "string" ? { apiKeyEnv: h.apiKeyEnv } : {}), needed: false, where: [] };
      e.needed ||= needed;
      e.where.push(where);
      found.set(key, e);
    });
  collect(profile.defaults, "defaults", true);
  for (const [name, p] of Object.entries((profile.presets ?? {}) as Record<string, unknown>)) collect(p, `@${name}`, defaultPresets.includes(name));
  if (!found.size) return;
  if (!opts.probe) {
    const urls = [...new Set([...found.values()].flatMap((e) => e.baseUrls))];
    for (const u of urls) {
      const models = [...found.values()].filter((e) => e.baseUrls.includes(u));
      add("ok", "endpoint", `${u}: ${models.length} model name(s) configured, ${models.filter((e) => e.needed).map((e) => e.model).join(", ") || "none"} by every run (not contacted; --probe lists the served models and sends one logprobs request per model it serves)`);
    }
    return;
  }
  for (const e of found.values()) {
    const r = await m.probeEndpoint(e);
    // An optional model the server does not serve is a note; one it serves but answers badly, a warning.
    const served = !r.lines.some((l) => /does not serve/.test(l));
    const status: Status = r.ok ? "ok" : e.needed ? "MISSING" : served ? "WARNING" : "note";
    const who = e.needed ? "every run" : e.where.join(", ");
    for (const l of r.lines) add(status, "endpoint", `${e.model} (${who}): ${l}`);
  }
}

/** The machine this process runs on. */
export function systemMachine(): Machine {
  const tf = systemProbe();
  return {
    env: process.env,
    nodeVersion: process.versions.node,
    exists: existsSync,
    isDirectory: (p) => existsSync(p) && statSync(p).isDirectory(),
    run: (command, args) => {
      const r = spawnSync(command, args, { encoding: "utf8", timeout: 60_000 });
      return r.error ? undefined : { status: r.status, stdout: r.stdout ?? "" };
    },
    ortVersion,
    ortProviders: () => probeProviders({ quiet: true }),
    gpu: () => {
      const visible = tf.gpu();
      const smi = spawnSync("nvidia-smi", ["-L"], { encoding: "utf8", timeout: 30_000 });
      const listed = smi.status === 0 ? smi.stdout.trim().split("\n").filter(Boolean) : [];
      const cuda = process.env.CUDA_VISIBLE_DEVICES;
      if (visible) return { visible, detail: `${listed.length ? listed.join("; ") : "an NVIDIA device node"}${cuda !== undefined ? ` (CUDA_VISIBLE_DEVICES=${cuda})` : ""}` };
      const why = cuda !== undefined && (cuda.trim() === "" || cuda.trim() === "-1") ? `CUDA_VISIBLE_DEVICES=${JSON.stringify(cuda)}` : smi.error ? "no nvidia-smi, no /dev/nvidia0" : "nvidia-smi lists none";
      return { visible, detail: why };
    },
    tfInstalled: (p) => tf.installed(p),
    freeBytes: (path) => {
      let p = resolve(path);
      while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
      try {
        const s = statfsSync(p);
        return s.bavail * s.bsize;
      } catch {
        return undefined;
      }
    },
    sam2Export: async (dir) => {
      const dec = new Sam2OnnxDecoder(parseSam2Params({ dir }));
      try {
        return await dec.inspect();
      } finally {
        await dec.dispose();
      }
    },
    datasetStats: async (name, split, root) => {
      const ds = await openDataset(name, { split, root });
      return (ds as unknown as { stats?: Record<string, number> }).stats ?? { samples: ds.size };
    },
    probeEndpoint: (e) => probeEndpoint(e),
  };
}

interface DoctorArgs {
  profile: string;
  probe: boolean;
  provider?: Sam2Provider;
}

export const doctorCommand: CommandModule<object, DoctorArgs> = {
  command: "doctor",
  describe: "Check this machine for what a profile needs: Node and pnpm, onnxruntime-node's execution providers (tried), the tfjs backend, GPUs, Chromium, OpenCV, torch, every environment variable of the profile and what it points at, model servers, free disk; exit 1 when something needed is missing",
  builder: (y) =>
    y
      .option("profile", { type: "string", default: "embedded", describe: "configs/profiles/<profile>.yaml: embedded (default) or real" })
      .option("probe", { type: "boolean", default: false, describe: "contact the profile's model servers: list their models and send one tiny logprobs request per served model" })
      .option("provider", { type: "string", choices: ["cpu", "cuda", "tensorrt"], describe: "the execution provider you will run SAM2 on (default: what the profile sets, else cpu); a GPU provider then counts as needed" }) as never,
  handler: async (args) => {
    const root = findRoot();
    const lines = await runDoctor(systemMachine(), { profile: args.profile, probe: args.probe, root, ...(args.provider ? { provider: args.provider } : {}) });
    console.log(`resagent doctor: profile ${args.profile} (configs/profiles/${args.profile}.yaml) on ${process.platform}/${process.arch}\n`);
    for (const l of lines) console.log(formatLine(l));
    const missing = lines.filter((l) => l.status === "MISSING").length;
    console.log(missing ? `\n${missing} thing(s) missing for profile ${args.profile}: the fix is on each MISSING line.` : `\nall set for profile ${args.profile}.`);
    if (missing) throw new ExitStatus(1);
  },
};

export function formatLine(l: DoctorLine): string {
  return `${l.status.padEnd(7)} ${l.what.padEnd(18)} ${l.detail}`;
}
