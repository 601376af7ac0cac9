// The docs stay short enough to be read: the README at most 10 KB, and docs/, tests/README.md and
// bench/README.md together at most 100 KB (bytes, KB = 1,000). History belongs to git and
// bench/results/, not here.
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url);
const README_MAX = 10_000;
const DOCS_MAX = 100_000;

function bytes(path: string): number {
  return Deno.statSync(new URL(path, root)).size;
}

Deno.test("the README is at most 10 KB", () => {
  const size = bytes("README.md");
  assert.ok(
    size <= README_MAX,
    `README.md is ${size} bytes, over ${README_MAX}: move detail into docs/`,
  );
});

Deno.test("docs/, tests/README.md and bench/README.md together are at most 100 KB", () => {
  const files = [
    ...[...Deno.readDirSync(new URL("docs/", root))]
      .filter((entry) => entry.isFile)
      .map((entry) => `docs/${entry.name}`),
    "tests/README.md",
    "bench/README.md",
  ];
  const sizes = files.map((file) => ({ file, size: bytes(file) }));
  const total = sizes.reduce((sum, { size }) => sum + size, 0);
  const list = sizes.sort((a, b) => b.size - a.size)
    .map(({ file, size }) => `  ${size}\t${file}`).join("\n");
  assert.ok(
    total <= DOCS_MAX,
    `${total} bytes, over ${DOCS_MAX}; state the present, leave history to git:\n${list}`,
  );
});
