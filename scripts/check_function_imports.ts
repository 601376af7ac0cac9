// Each function's own deno.json is what `supabase functions deploy` resolves imports with; locally
// everything runs with the root deno.json. Check that every import a function declares is in the
// root imports with the identical value, so both resolve the same pinned versions, and that the
// function (with every _shared module it pulls in) type-checks with its own deno.json alone, so
// no import resolves locally only. A function without a deno.json, or whose deno.json has no
// imports, is skipped.
//
// Usage: deno run --allow-read --allow-run --allow-env scripts/check_function_imports.ts
// (exit 1 on any problem)

import { functionNames } from "./functions.ts";

type Imports = Record<string, string>;

const root = new URL("../", import.meta.url);

function readImports(url: URL): Imports | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(url);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const config = JSON.parse(text) as { imports?: Imports };
  return config.imports;
}

const rootImports = readImports(new URL("deno.json", root)) ?? {};
const problems: string[] = [];
const checked: string[] = [];

for (const name of functionNames()) {
  const path = `supabase/functions/${name}/deno.json`;
  const imports = readImports(new URL(path, root));
  if (imports === undefined || Object.keys(imports).length === 0) {
    console.log(`  ${name}: skipped (no imports in ${path})`);
    continue;
  }
  for (const [specifier, target] of Object.entries(imports)) {
    if (!(specifier in rootImports)) {
      problems.push(
        `${path}: "${specifier}" is not in the root deno.json imports (add it there first)`,
      );
    } else if (rootImports[specifier] !== target) {
      problems.push(
        `${path}: "${specifier}" is "${target}" but the root deno.json has "${
          rootImports[specifier]
        }"`,
      );
    }
  }
  // As deploy bundles it: only this function's import map (no lock file written beside it).
  const check = await new Deno.Command(Deno.execPath(), {
    args: [
      "check",
      "--quiet",
      "--no-lock",
      "--config",
      path,
      `supabase/functions/${name}/index.ts`,
    ],
    cwd: root.pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!check.success) {
    problems.push(
      `${path}: the function does not type-check with its own imports:\n${
        new TextDecoder().decode(check.stderr)
      }`,
    );
  }
  checked.push(name);
}

for (const problem of problems) console.log(`  ${problem}`);
if (problems.length > 0) Deno.exit(1);
console.log(
  `  ${checked.length} function deno.json file(s) match the root imports and resolve alone${
    checked.length ? `: ${checked.join(", ")}` : ""
  }`,
);
