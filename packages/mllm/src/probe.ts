import type { z } from "zod";
import { OpenAiCompatibleBackend, parseHttpOptions, type HttpOptionsSchema } from "./http.js";

/** An 8x8 red PNG: the smallest image a vision model will take, so the probe also checks images are accepted. */
const RED_PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEUlEQVR4nGO4IyeHFTEMLQkAid1GAXiz9RcAAAAASUVORK5CYII=", "base64");

export interface ProbeResult {
  ok: boolean;
  /** One line per check: "models: ...", "logprobs: ...". */
  lines: string[];
}

/**
 * Contact an OpenAI-compatible endpoint the way a run will use it: list the served models and
 * check the configured one is among them, then send one tiny image + yes/no question asking for
 * top logprobs and check they come back (vLLM caps them by --max-logprobs). Costs one request.
 */
export async function probeEndpoint(options: z.input<typeof HttpOptionsSchema>, topLogprobs = 5): Promise<ProbeResult> {
  const lines: string[] = [];
  let ok = true;
  const key = options.apiKeyEnv ? process.env[options.apiKeyEnv] : undefined;
  const timeoutMs = Math.min(options.timeoutMs ?? 20_000, 20_000);
  for (const base of options.baseUrls) {
    const url = `${base.replace(/\/+$/, "")}/models`;
    try {
      const res = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`answered ${res.status}`);
      const ids = ((await res.json()) as { data?: { id?: unknown }[] }).data?.map((d) => String(d.id)) ?? [];
      if (ids.includes(options.model)) lines.push(`models: ${url} serves ${options.model}`);
      else {
        ok = false;
        lines.push(`models: ${url} does not serve "${options.model}" (it serves ${ids.length ? ids.join(", ") : "nothing it lists"}); set the model name the server lists`);
      }
    } catch (err) {
      ok = false;
      const cause = (err as Error & { cause?: Error }).cause;
      lines.push(`models: ${url}: ${(err as Error).message}${cause ? ` (${cause.message})` : ""}`);
    }
  }
  if (!ok) return { ok, lines };
  // Every endpoint on its own: one started without --max-logprobs would fail only its share of a run.
  for (const base of options.baseUrls) {
    const where = options.baseUrls.length > 1 ? `${base}: ` : "";
    try {
      const backend = new OpenAiCompatibleBackend(parseHttpOptions({ ...options, baseUrls: [base], retries: 0, timeoutMs: Math.max(timeoutMs, 60_000) }));
      const answer = await backend.complete(
        {
          content: [
            { type: "image", hash: "probe", mime: "image/png", render: async () => RED_PNG },
            { type: "text", text: "Answer strictly yes or no: is this picture red?" },
          ],
          maxTokens: 1,
          topLogprobs,
        },
        { kind: "verify", sampleId: "probe", imageWidth: 8, imageHeight: 8 },
      );
      const top = answer.firstTokenTopLogprobs ?? [];
      if (top.length >= Math.min(2, topLogprobs)) {
        lines.push(`logprobs: ${where}answer "${answer.text}", top ${top.length}: ${top.map((t) => `${JSON.stringify(t.token)} ${t.logprob.toFixed(2)}`).join(", ")}`);
      } else {
        ok = false;
        lines.push(
          `logprobs: ${where}the server answered "${answer.text}" but returned ${top.length ? "only the chosen token's logprob" : "no logprobs"}; P(yes) needs the top ${topLogprobs} (vLLM: start with --max-logprobs ${Math.max(20, topLogprobs)}), or set verifier.aggregation: decoded`,
        );
      }
    } catch (err) {
      ok = false;
      // The client itself refuses answers without the requested logprobs, naming the fix.
      lines.push(`${/logprobs/i.test((err as Error).message) ? "logprobs" : "request"}: ${(err as Error).message}`);
    }
  }
  return { ok, lines };
}
