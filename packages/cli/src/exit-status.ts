/** A command that has said what went wrong and wants this exit status (validate: 1 when something is missing). */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit status ${code}`);
  }
}
