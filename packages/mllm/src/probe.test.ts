import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { probeEndpoint } from "./probe.js";

/** A server that lists `models` under GET /v1/models and answers chat requests with or without top logprobs. */
async function serve(models: string[], withTop: boolean): Promise<{ url: string; bodies: Record<string, unknown>[]; server: Server }> {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString("utf8")));
    req.on("end", () => {
      if (req.method === "GET" && req.url === "/v1/models") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "list", data: models.map((id) => ({ id, object: "model" })) }));
        return;
      }
      bodies.push(JSON.parse(raw) as Record<string, unknown>);
      const top = [
        { token: "Yes", logprob: -0.1 },
        { token: "No", logprob: -2.4 },
      ];
      const content = [{ token: "Yes", logprob: -0.1, bytes: [89, 101, 115], ...(withTop ? { top_logprobs: top } : {}) }];
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ choices: [{ index: 0, message: { role: "assistant", content: "Yes" }, logprobs: { content } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, bodies, server };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

describe("validate --probe", () => {
  it("checks the model is served and that top logprobs come back, with one image request", async () => {
    const s = await serve(["Qwen/Qwen3-VL-8B-Instruct", "resagent-vbr-lora"], true);
    servers.push(s.server);
    const r = await probeEndpoint({ baseUrls: [s.url], model: "resagent-vbr-lora" });
    expect(r.ok).toBe(true);
    expect(r.lines[0]).toMatch(/models: .* serves resagent-vbr-lora/);
    expect(r.lines[1]).toMatch(/logprobs: answer "Yes", top 2: "Yes" -0\.10, "No" -2\.40/);
    expect(s.bodies).toHaveLength(1);
    expect(s.bodies[0]).toMatchObject({ model: "resagent-vbr-lora", max_tokens: 1, logprobs: true, top_logprobs: 5 });
    expect(JSON.stringify(s.bodies[0])).toMatch(/data:image\/png;base64,/);
  });

  it("says which models the server has when the configured one is not among them, and sends no request", async () => {
    const s = await serve(["Qwen/Qwen3-VL-8B-Instruct"], true);
    servers.push(s.server);
    const r = await probeEndpoint({ baseUrls: [s.url], model: "resagent-vbr-lora" });
    expect(r.ok).toBe(false);
    expect(r.lines[0]).toMatch(/does not serve "resagent-vbr-lora" \(it serves Qwen\/Qwen3-VL-8B-Instruct\)/);
    expect(s.bodies).toHaveLength(0);
  });

  it("tells how to fix a server that returns no top logprobs", async () => {
    const s = await serve(["m"], false);
    servers.push(s.server);
    const r = await probeEndpoint({ baseUrls: [s.url], model: "m" });
    expect(r.ok).toBe(false);
    expect(r.lines[1]).toMatch(/^logprobs: .*--max-logprobs 5 or more.*aggregation=decoded/);
  });

  it("checks top logprobs on every endpoint of a model, naming the one that returns none", async () => {
    const good = await serve(["m"], true);
    const bad = await serve(["m"], false);
    servers.push(good.server, bad.server);
    const r = await probeEndpoint({ baseUrls: [good.url, bad.url], model: "m" });
    expect(r.ok).toBe(false);
    expect(r.lines.filter((l) => l.startsWith("models: "))).toHaveLength(2);
    expect(r.lines).toContain(`logprobs: ${good.url}: answer "Yes", top 2: "Yes" -0.10, "No" -2.40`);
    expect(r.lines.find((l) => l.includes(bad.url) && l.startsWith("logprobs: "))).toMatch(/returns no logprobs.*--max-logprobs 5 or more/);
    expect([good.bodies.length, bad.bodies.length]).toEqual([1, 1]);
  });
});
