// Which folders of supabase/functions are functions: the ones with an index.ts, except `_shared`
// and other names starting with `_` or `.`. Shared by the functions server, the import check and
// the tests, so they all agree.

export const functionsDir: URL = new URL(
  "../supabase/functions/",
  import.meta.url,
);

/** Function names, sorted. */
export function functionNames(dir: URL = functionsDir): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.isDirectory || /^[_.]/.test(entry.name)) continue;
    try {
      Deno.statSync(new URL(`${entry.name}/index.ts`, dir));
      names.push(entry.name);
    } catch {
      // A folder without index.ts is not a function.
    }
  }
  return names.sort();
}
