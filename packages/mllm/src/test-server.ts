import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What a scripted reply does: answer in vLLM's shape, fail with a status, or stall. */
export type Reply =
  | { kind: "answer"; text: string; top?: { token: string; logprob: number }[]; delayMs?: number; omitTop?: boolean }
  | { kind: "status"; status: number; body?: string }
  | { kind: "stall"; ms: number };

export interface TestServer {
  url: string;
  /** Requests received (parsed bodies) and their headers. */
  requests: { body: Record<string, unknown>; headers: IncomingMessage["headers"] }[];
  peakInFlight: number;
  close(): Promise<void>;
}

/**
 * A local OpenAI/vLLM-compatible server for tests: POST /v1/chat/completions answers with the
 * exact response shape vLLM produces (choices[0].message.content, logprobs.content[0] with token,
 * logprob, bytes and top_logprobs). `script` picks the reply for the n-th request.
 */
export async function startTestServer(script: (n: number, body: Record<string, unknown>) => Reply): Promise<TestServer> {
  const requests: TestServer["requests"] = [];
  let inFlight = 0;
  const state = { peakInFlight: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString("utf8")));
    req.on("end", () => {
      const body = JSON.parse(raw || "{}") as Record<string, unknown>;
      const n = requests.length;
      requests.push({ body, headers: req.headers });
      inFlight++;
      state.peakInFlight = Math.max(state.peakInFlight, inFlight);
      const reply = script(n, body);
      const finish = () => inFlight--;
      if (reply.kind === "status") {
        res.writeHead(reply.status, { "content-type": "application/json" }).end(reply.body ?? JSON.stringify({ error: { message: "scripted failure" } }), finish);
        return;
      }
      if (reply.kind === "stall") {
        setTimeout(() => {
          if (!res.writableEnded) res.destroy();
          finish();
        }, reply.ms);
        return;
      }
      const top = reply.top ?? [];
      const first = top[0] ?? { token: reply.text, logprob: 0 };
      const payload = {
        id: `chatcmpl-${n}`,
        object: "chat.completion",
        created: 1_700_000_000,
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: reply.text, tool_calls: [] },
            logprobs: body.logprobs
              ? {
                  content: [
                    {
                      token: first.token,
                      logprob: first.logprob,
                      bytes: [...Buffer.from(first.token, "utf8")],
                      ...(reply.omitTop ? {} : { top_logprobs: top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: [...Buffer.from(t.token, "utf8")] })) }),
                    },
                  ],
                }
              : null,
            finish_reason: "length",
            stop_reason: null,
          },
        ],
        usage: { prompt_tokens: 300, total_tokens: 301, completion_tokens: 1 },
      };
      setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(payload), finish), reply.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get peakInFlight() {
      return state.peakInFlight;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
