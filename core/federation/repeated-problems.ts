/**
 * What to say about a value refused under a key, so that a source sending
 * one broken value after another is counted for each entry but warned about
 * once: an entry (by its KV revision) already seen is `seen`; a new entry
 * with the problem the key last had is `repeated`; anything else is `new`.
 * `settle` forgets the key (a valid value or a delete arrived there), so the
 * same problem afterwards is `new` again.
 */
export class RepeatedProblems {
  /** key → the last refused revision and its problem. */
  private readonly last = new Map<string, { revision: number; problem: string }>();

  note(key: string, revision: number, problem: string): 'seen' | 'repeated' | 'new' {
    const before = this.last.get(key);
    if (before?.revision === revision) return 'seen';
    this.last.set(key, { revision, problem });
    return before?.problem === problem ? 'repeated' : 'new';
  }

  /** Whether the key had a refused value. */
  settle(key: string): boolean {
    return this.last.delete(key);
  }
}
