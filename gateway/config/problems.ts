/**
 * How compilation says no. A resource is compiled whole or left out whole,
 * as Envoy accepts or NACKs a resource whole: half a route table or half an
 * RBAC policy could send traffic where the config never meant it to go. So
 * the compilers throw a ConfigProblem from deep inside, each level on the
 * way out says where it was, and compile.ts catches it per resource.
 */

export class ConfigProblem extends Error {
  override readonly name = 'ConfigProblem';
}

/** Gives up on the resource being compiled. */
export function fail(message: string): never {
  throw new ConfigProblem(message);
}

/** Runs `compile`, prefixing a problem it raises with where it happened (`virtual host x: route y: …`). */
export function within<T>(where: string, compile: () => T): T {
  try {
    return compile();
  } catch (error) {
    if (error instanceof ConfigProblem) throw new ConfigProblem(`${where}: ${error.message}`);
    throw error;
  }
}

/**
 * The message to report for an error raised while compiling a resource.
 * Anything but a ConfigProblem is a compiler bug met on odd input; it is
 * still reported, not thrown, so one odd resource cannot take the others down.
 */
export function problemMessage(error: unknown): string {
  if (error instanceof ConfigProblem) return error.message;
  return `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
}
