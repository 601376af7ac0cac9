// What a function logs while a test calls it in-process: its JSON log lines, stdout and stderr apart.
type Line = Record<string, unknown>;

/** Runs `fn` with console.log and console.error captured (and silenced), parsing each line as JSON. */
export async function captureConsole<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; lines: Line[]; errors: Line[] }> {
  const { log, error } = console;
  const lines: Line[] = [];
  const errors: Line[] = [];
  const parse = (args: unknown[]) => JSON.parse(String(args[0]));
  console.log = (...args: unknown[]) => lines.push(parse(args));
  console.error = (...args: unknown[]) => errors.push(parse(args));
  try {
    return { result: await fn(), lines, errors };
  } finally {
    console.log = log;
    console.error = error;
  }
}
