// The local stack's commands answer --help with their usage and refuse arguments they do not
// take: `scripts/reset --help` used to wipe the dev data, and `scripts/start --help` to start
// the whole stack.

import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

async function run(script: string, ...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args: [`${root}${script}`, ...args],
    cwd: root,
    stdin: "null",
    // Before the fix scripts/start did not return: give up rather than hang the suite.
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * A file in the dev data folder that reset would remove, removed again after `body` (with the
 * folder, if this made it: scripts/start decides where a clone's folder lives).
 */
async function withDevDataMarker(body: (marker: string) => Promise<void>) {
  const local = `${root}.local`;
  const made = !(await exists(local));
  await Deno.mkdir(local, { recursive: true });
  const marker = `${await Deno.realPath(local)}/scripts-help-test-marker`;
  await Deno.writeTextFile(marker, "reset must not remove this");
  try {
    await body(marker);
  } finally {
    await Deno.remove(made ? local : marker, { recursive: made }).catch(
      () => {},
    );
  }
}

Deno.test("scripts/start --help prints its usage and starts nothing", async () => {
  const { code, stdout, stderr } = await run("scripts/start", "--help");
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^Start the local Supabase stack/);
  assert.match(stdout, /Env: PG_MAJOR/);
  assert.doesNotMatch(stdout, /set -euo pipefail|^#/m);
  assert.equal(stderr, "");
});

Deno.test("scripts/reset --help prints its usage and wipes nothing", async () => {
  await withDevDataMarker(async (marker) => {
    const { code, stdout, stderr } = await run("scripts/reset", "--help");
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^Wipe the local stack's data/);
    assert.doesNotMatch(stdout, /Removed/);
    assert.ok(await exists(marker), "reset --help removed the dev data");
  });
});

Deno.test("scripts/start and scripts/reset refuse an argument they do not take", async () => {
  await withDevDataMarker(async (marker) => {
    for (const script of ["scripts/start", "scripts/reset"]) {
      const { code, stdout, stderr } = await run(script, "--yes");
      assert.equal(code, 1, `${script} --yes exited ${code}`);
      assert.equal(
        stderr,
        `error: ${script} takes no arguments, not --yes (see ${script} --help)\n`,
      );
      assert.equal(stdout, "");
    }
    assert.ok(await exists(marker), "reset --yes removed the dev data");
  });
});
