// Every sql and sh block in the README, docs/, bench/README.md and tests/README.md runs against
// the stack under test, unless an HTML comment right above it says why it does not
// (`<!-- not run: <reason> -->`). A file's blocks run in order, after the local seed, with the
// dev stack's addresses (127.0.0.1:54321, :54322, the Midtrans stand-in's :54326, MailDev's :54324
// and the WhatsApp stand-in's :54327) replaced by the test stack's. An sh block's
// `# {...}` and `# HTTP/...` comment lines are the answers it shows: the block's output must
// contain each of them, in order, where `...` stands for any text.
import assert from "node:assert/strict";
import { env, Mailbox, resetData, withSql } from "../support/mod.ts";

const root = new URL("../../", import.meta.url);
const FILES = [
  "README.md",
  ...[...Deno.readDirSync(new URL("docs/", root))]
    .filter((entry) => entry.isFile && entry.name.endsWith(".md"))
    .map((entry) => `docs/${entry.name}`)
    .sort(),
  "bench/README.md",
  "tests/README.md",
];
const RUNNABLE = new Set(["sql", "sh"]);
const NOT_RUN = /^<!-- not run: (.+) -->$/;

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
  /** Why it is not run, when it says so. */
  notRun?: string;
}

function blocksOf(file: string): Block[] {
  const lines = Deno.readTextFileSync(new URL(file, root)).split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)/.exec(lines[i]);
    if (!open) continue;
    const end = lines.indexOf("```", i + 1);
    assert.ok(end > i, `${file}:${i + 1}: a code block that never closes`);
    // The comment stands right above the block (deno fmt may put a blank line between).
    const above = lines[i - 1] === "" ? lines[i - 2] : lines[i - 1];
    const notRun = NOT_RUN.exec(above ?? "")?.[1];
    blocks.push({
      file,
      line: i + 1,
      lang: open[1],
      code: lines.slice(i + 1, end).join("\n"),
      notRun,
    });
    i = end;
  }
  return blocks;
}

const api = new URL(env.apiUrl);
const db = new URL(env.dbUrl);
const midtrans = new URL(env.midtransApiUrl);
const psql = `${Deno.env.get("PG_BIN") ?? "/usr/lib/postgresql/15/bin"}/psql`;

/** The block as it runs against the test stack. */
function forTestStack(code: string): string {
  return code
    .replaceAll("127.0.0.1:54321", api.host)
    .replaceAll("127.0.0.1:54322", `${db.hostname}:${db.port}`)
    .replaceAll("127.0.0.1:54326", midtrans.host)
    .replaceAll("127.0.0.1:54324", new URL(new Mailbox().url).host)
    .replaceAll("127.0.0.1:54327", new URL(env.whatsappApiUrl).host);
}

async function run(
  command: string,
  args: string[],
  stdin: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { PATH: `${psql.replace(/\/psql$/, "")}:${Deno.env.get("PATH")}` },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: text(stdout), stderr: text(stderr) };
}

/** `# {...}` / `# HTTP/...` lines: what the block shows it answers. */
function shownAnswers(code: string): string[] {
  return code.split("\n")
    .map((line) => /^#\s+((?:\{|HTTP\/).*)$/.exec(line.trim())?.[1])
    .filter((answer): answer is string => answer !== undefined);
}

/** An answer as a pattern: `...` and a word cut short by it (`b4bb...`) stand for any text. */
function pattern(answer: string): RegExp {
  const parts = answer.split(/[\w-]*\.\.\./);
  const escaped = parts.map((part) =>
    part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+")
  );
  return new RegExp(escaped.join("[\\s\\S]*?"), "i");
}

/** Runs SQL as an admin would, with psql, stopping at the first error. */
async function runSql(code: string, where: string): Promise<void> {
  const args = [env.dbUrl, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"];
  const result = await run(psql, args, code);
  assert.equal(result.code, 0, `${where}: psql failed\n${result.stderr}`);
}

async function runBlock(block: Block): Promise<void> {
  const where = `${block.file}:${block.line}`;
  const code = forTestStack(block.code);
  if (block.lang === "sql") {
    await runSql(code, where);
    return;
  }
  // curl -s prints no newline after a body: add one, so answers stay apart.
  const script =
    `set -euo pipefail\ncurl() { command curl --max-time 30 "$@"; echo; }\n${code}\n`;
  const result = await run("bash", ["-s"], script);
  assert.equal(
    result.code,
    0,
    `${where}: failed\n${result.stderr}\n${result.stdout}`,
  );
  let rest = result.stdout;
  for (const answer of shownAnswers(block.code)) {
    const match = pattern(answer).exec(rest);
    assert.ok(
      match,
      `${where}: the block shows\n  ${answer}\nbut printed\n${rest}`,
    );
    rest = rest.slice(match.index + match[0].length);
  }
}

async function seeded(): Promise<void> {
  await withSql(resetData);
  // A file's examples read the inbox as a fresh stack has it, not the emails of earlier tests.
  await new Mailbox().clear();
  await runSql(
    Deno.readTextFileSync(new URL("supabase/seed.sql", root)),
    "supabase/seed.sql",
  );
}

Deno.test("every sql and sh block in the docs either runs and shows its real answers, or says why it is not run", async (t) => {
  const curl = await new Deno.Command("bash", {
    args: ["-c", "command -v curl"],
    stdout: "null",
  }).output();
  assert.ok(
    curl.success,
    "the docs' examples need curl (apt-get install curl)",
  );
  let ran = 0;
  try {
    for (const file of FILES) {
      const blocks = blocksOf(file).filter((b) => RUNNABLE.has(b.lang));
      if (blocks.some((b) => !b.notRun)) await seeded();
      for (const block of blocks) {
        const name = `${block.file}:${block.line} (${block.lang})`;
        if (block.notRun) {
          await t.step({
            name: `${name}: not run: ${block.notRun}`,
            ignore: true,
            fn: () => {},
          });
          continue;
        }
        await t.step(name, () => runBlock(block));
        ran++;
      }
    }
  } finally {
    await withSql(resetData);
  }
  assert.ok(ran > 0, "some blocks ran");
});

Deno.test("every code block in the docs names its language, so none escapes the check above", () => {
  for (const file of FILES) {
    for (const block of blocksOf(file)) {
      assert.notEqual(
        block.lang,
        "",
        `${block.file}:${block.line}: a block without a language`,
      );
      assert.ok(
        ["sql", "sh", "text", "json", "ts"].includes(block.lang),
        `${block.file}:${block.line}: ${block.lang}: sql and sh run; text, json and ts are shown`,
      );
    }
  }
});
