/**
 * A model server that answers at once, in vLLM's response shape, in a process of its own so the
 * throughput bench measures the client's CPU, not the server's. Started by bench/throughput.ts
 * with fork(): sends `{ url }` when listening, answers a "cpu" message with its CPU time so far.
 */
import { startTestServer, yesNoReply } from "@resagent/mllm/testing";

// Two answers in three are yes: the verifier then stops early as often as it would on real answers.
const server = await startTestServer((n) => yesNoReply(n % 3 !== 2));
// The test server keeps every request for tests to inspect; here that would only grow.
setInterval(() => (server.requests.length = 0), 250).unref();
process.on("message", (m: unknown) => {
  if (m === "cpu") process.send?.({ cpu: process.cpuUsage() });
  if (m === "stop") void server.close().then(() => process.exit(0));
});
process.send?.({ url: server.url });
