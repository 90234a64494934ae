/**
 * An error in what the user gave (a flag, a file, a config): its message says what to fix. The
 * CLI prints it as one line and exits with `exitCode`; other layers throw it for bad input.
 */
export class UserInputError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UserInputError';
  }
}
