/** One Dockerfile instruction: the keyword (upper case) and its arguments on one line. */
export interface DockerInstruction {
  readonly op: string;
  readonly args: string;
}

/** One build stage: its `AS` name ('' when unnamed) and the instructions after its FROM. */
export interface DockerStage {
  readonly name: string;
  readonly from: string;
  readonly instructions: DockerInstruction[];
}

/** Dockerfile instructions: continuation lines joined, comments dropped. */
export function dockerInstructions(text: string): DockerInstruction[] {
  const out: DockerInstruction[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' && current === '') continue;
    if (line.startsWith('#')) continue;
    current += (current === '' ? '' : ' ') + line.replace(/\\$/, '').trim();
    if (!line.endsWith('\\')) {
      const [op, ...rest] = current.split(/\s+/);
      out.push({ op: op.toUpperCase(), args: rest.join(' ') });
      current = '';
    }
  }
  return out;
}

/** The build stages of a Dockerfile's instructions (ARGs before the first FROM are left out). */
export function dockerStages(instructions: readonly DockerInstruction[]): DockerStage[] {
  const stages: DockerStage[] = [];
  for (const instruction of instructions) {
    if (instruction.op === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      stages.push({ name: match?.[2] ?? '', from: match?.[1] ?? '', instructions: [] });
    } else stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}
