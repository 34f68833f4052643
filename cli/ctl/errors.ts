/** A failure meshfedctl reports as lines on stderr and an exit code: 1 for failed operations, 2 for bad usage or config. */
export class CtlError extends Error {
  constructor(
    message: string,
    readonly lines: string[] = [],
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CtlError';
  }
}

export const usageError = (message: string, lines: string[] = []) => new CtlError(message, lines, 2);
