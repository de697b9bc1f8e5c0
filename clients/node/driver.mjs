// The openai-node client lane's driver: makes ONE Chat Completions call through the `openai` npm
// package exactly as its documentation shows Node users, and prints what that user gets.
//
// Input (stdin, JSON): {"base_url", "api_key", "body", "timeout_s", "structured"}. `base_url` is the
// suite's loopback gateway, never the target; the body is the documented REST body, passed as given
// (a Node user spreads Vertex's own keys, `extra_body` or `extra_content`, into the params object and
// the SDK serialises that object as the JSON body).
// Output (stdout, JSON): the ClientResult of vertex_conformance/client_call.py,
// {"call", "version", "view": {...} | null, "error": {...} | null}. An error the CLIENT raised is a
// result (what its user sees), not a driver failure: the driver exits 0. Only a fault of the driver
// itself (a job it cannot read) exits non-zero, with one line on stderr.

import OpenAI from "openai";
import { VERSION } from "openai/version";

const CALLS = {
  create: "client.chat.completions.create(params)",
  stream: "client.chat.completions.stream(params).finalChatCompletion()",
  parse: "client.chat.completions.parse(params)",
};

async function readJob() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const job = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  if (job === null || typeof job !== "object" || typeof job.base_url !== "string") {
    throw new Error("the job must be a JSON object with a base_url");
  }
  if (job.body === null || typeof job.body !== "object" || Array.isArray(job.body)) {
    throw new Error("the job's body must be a JSON object");
  }
  return job;
}

// Which documented call the user makes: a streamed body is assembled by the SDK's stream helper
// (`.stream()` sets `stream: true` itself; the body keeps it as given), structured output is read
// with `parse()`, anything else is a plain `create()`.
function kindOf(job) {
  if (job.body.stream === true) return "stream";
  return job.structured ? "parse" : "create";
}

async function complete(client, kind, body) {
  if (kind === "stream") return client.chat.completions.stream(body).finalChatCompletion();
  if (kind === "parse") return client.chat.completions.parse(body);
  return client.chat.completions.create(body);
}

// One tool call as the user reads it. A slot the SDK left empty (a stream that named index 1 but
// never index 0) is a hole in the user's array: every field null, so the checks see it.
function toolCallView(call) {
  return {
    id: call?.id ?? null,
    name: call?.function?.name ?? null,
    arguments: call?.function?.arguments ?? null,
    thought_signature: call?.extra_content?.google?.thought_signature ?? null,
  };
}

function viewOf(completion) {
  const message = completion?.choices?.[0]?.message ?? {};
  const usage = completion?.usage;
  return {
    role: message.role ?? null,
    content: message.content ?? null,
    tool_calls: Array.from(message.tool_calls ?? [], toolCallView),
    usage: usage
      ? {
          prompt_tokens: usage.prompt_tokens ?? null,
          completion_tokens: usage.completion_tokens ?? null,
          total_tokens: usage.total_tokens ?? null,
        }
      : null,
    parsed: message.parsed ?? null,
    raw: completion ?? null,
  };
}

function errorOf(err) {
  return {
    type: err?.constructor?.name ?? typeof err,
    status: typeof err?.status === "number" ? err.status : null,
    message: String(err?.message ?? err),
  };
}

async function main() {
  let job;
  try {
    job = await readJob();
  } catch (err) {
    process.stderr.write(`driver.mjs: cannot read the job on stdin: ${String(err?.message ?? err)}\n`);
    process.exit(2);
  }
  const kind = kindOf(job);
  const result = { call: CALLS[kind], version: VERSION, view: null, error: null };
  try {
    const client = new OpenAI({
      baseURL: job.base_url,
      apiKey: job.api_key,
      maxRetries: 0,
      timeout: Number(job.timeout_s) * 1000,
    });
    result.view = viewOf(await complete(client, kind, job.body));
  } catch (err) {
    result.error = errorOf(err);
  }
  // exit only once the result is flushed: an idle keep-alive socket must not hold the process open
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

await main();
