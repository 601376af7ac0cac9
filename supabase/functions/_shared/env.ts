// Where a function reads its settings: the process environment on hosted Supabase. Tests pass
// their own (a Map will do) instead of changing Deno.env, so each test sees only what it set.
export interface Env {
  get(name: string): string | undefined;
}
