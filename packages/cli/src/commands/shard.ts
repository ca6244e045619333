import { InputError } from "@resagent/core";

export interface Shard {
  index: number;
  count: number;
}

/** Where `--shard auto` found its shard, for the line the run prints. */
export interface AutoShard extends Shard {
  from: string;
}

/** The environment variable a Kubernetes Indexed Job (or anything else) may set to the shard count. */
export const SHARD_COUNT_ENV = "RESAGENT_SHARD_COUNT";

const FIELD = "--shard auto";

function intVar(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min) throw new InputError(`${name}="${raw}" is not an integer >= ${min}`, { field: FIELD });
  return Number(raw);
}

/**
 * The shard of this process as the scheduler assigned it:
 * - a SLURM job array: index (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP,
 *   count SLURM_ARRAY_TASK_COUNT (MIN defaults to 0 and STEP to 1 where unset);
 * - a Kubernetes Indexed Job: index JOB_COMPLETION_INDEX, count from `--shard auto/N` or
 *   RESAGENT_SHARD_COUNT (Kubernetes tells a pod its index, not the Job's completions).
 * `auto/N` states the count the caller expects; every count found must agree with it. Anything
 * missing or inconsistent is an InputError of one line: a wrong shard would silently run (or
 * skip) other shards' samples.
 */
export function resolveAutoShard(spec: string, env: NodeJS.ProcessEnv = process.env): AutoShard {
  const m = spec.match(/^auto(?:\/(\d+))?$/);
  if (!m) throw new InputError(`expected "auto" or "auto/N", got "${spec}"`, { field: "--shard" });
  const stated = m[1] === undefined ? undefined : Number(m[1]);
  if (stated !== undefined && stated < 1) throw new InputError(`expected a shard count >= 1, got "${spec}"`, { field: "--shard" });
  const slurm = env.SLURM_ARRAY_TASK_ID !== undefined && env.SLURM_ARRAY_TASK_ID !== "";
  const k8s = env.JOB_COMPLETION_INDEX !== undefined && env.JOB_COMPLETION_INDEX !== "";
  if (slurm && k8s) throw new InputError(`both SLURM_ARRAY_TASK_ID (${env.SLURM_ARRAY_TASK_ID}) and JOB_COMPLETION_INDEX (${env.JOB_COMPLETION_INDEX}) are set; unset the one that does not apply, or pass --shard i/n`, { field: FIELD });
  const envCount = intVar(env, SHARD_COUNT_ENV, 1);
  /** Every count that was stated must be the same. */
  const agree = (counts: [string, number | undefined][]): number | undefined => {
    const known = counts.filter((c): c is [string, number] => c[1] !== undefined);
    if (new Set(known.map(([, n]) => n)).size > 1) throw new InputError(`inconsistent shard counts: ${known.map(([w, n]) => `${w} = ${n}`).join(", ")}`, { field: FIELD });
    return known[0]?.[1];
  };
  const statedAs: [string, number | undefined] = [`--shard ${spec}`, stated];
  const envAs: [string, number | undefined] = [SHARD_COUNT_ENV, envCount];

  if (slurm) {
    const id = intVar(env, "SLURM_ARRAY_TASK_ID", 0)!;
    const min = intVar(env, "SLURM_ARRAY_TASK_MIN", 0) ?? 0;
    const step = intVar(env, "SLURM_ARRAY_TASK_STEP", 1) ?? 1;
    const max = intVar(env, "SLURM_ARRAY_TASK_MAX", 0);
    const count = agree([["SLURM_ARRAY_TASK_COUNT", intVar(env, "SLURM_ARRAY_TASK_COUNT", 1)], statedAs, envAs]);
    if (count === undefined) throw new InputError(`SLURM_ARRAY_TASK_ID is set (${id}) but SLURM_ARRAY_TASK_COUNT is not; pass --shard auto/N with the array's task count`, { field: FIELD });
    // An array given as a list (--array=1,4,9) has no MIN + k*STEP form: its task ids do not map
    // onto 0..count-1 without gaps or overlaps.
    if (max !== undefined && max !== min + (count - 1) * step)
      throw new InputError(
        `the job array is not a range: SLURM_ARRAY_TASK_MIN=${min} + (SLURM_ARRAY_TASK_COUNT=${count} - 1) x SLURM_ARRAY_TASK_STEP=${step} != SLURM_ARRAY_TASK_MAX=${max}; submit it as --array=0-${count - 1} (a % limit is fine)`,
        { field: FIELD },
      );
    const offset = id - min;
    const index = offset / step;
    if (offset < 0 || !Number.isInteger(index) || index >= count)
      throw new InputError(`SLURM_ARRAY_TASK_ID=${id} is not one of ${count} array tasks starting at SLURM_ARRAY_TASK_MIN=${min} with step ${step}`, { field: FIELD });
    const vars = [`SLURM_ARRAY_TASK_ID=${id}`, ...(env.SLURM_ARRAY_TASK_MIN ? [`SLURM_ARRAY_TASK_MIN=${min}`] : []), ...(step !== 1 ? [`SLURM_ARRAY_TASK_STEP=${step}`] : []), `count ${count}`];
    return { index, count, from: `SLURM job array${env.SLURM_ARRAY_JOB_ID ? ` ${env.SLURM_ARRAY_JOB_ID}` : ""} (${vars.join(", ")})` };
  }
  if (k8s) {
    const index = intVar(env, "JOB_COMPLETION_INDEX", 0)!;
    const count = agree([statedAs, envAs]);
    if (count === undefined) throw new InputError(`JOB_COMPLETION_INDEX is set (${index}) but the shard count is not: pass --shard auto/N or set ${SHARD_COUNT_ENV} to the Job's spec.completions`, { field: FIELD });
    if (index >= count) throw new InputError(`JOB_COMPLETION_INDEX=${index} is not below the shard count ${count}; the Job's spec.completions and the count must be equal`, { field: FIELD });
    return { index, count, from: `Kubernetes Indexed Job (JOB_COMPLETION_INDEX=${index}, count ${count} from ${stated !== undefined ? `--shard ${spec}` : SHARD_COUNT_ENV})` };
  }
  throw new InputError(`no scheduler shard found: neither SLURM_ARRAY_TASK_ID (a SLURM job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; pass --shard i/n outside them`, { field: FIELD });
}
