import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Where a command writes; `process.stdout`/`process.stderr` in the bin. */
export interface Output {
  write(text: string): unknown;
}

/** What every command runs with: the repository (or image) root, the environment and the two outputs. */
export interface CliContext {
  /** Holds package.json, dist/ and scripts/. */
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: Output;
  readonly stderr: Output;
}

/** A flag's kind: `--name <value>`, `--name`, or `--name <value>` that may be repeated. */
export type OptionKind = 'string' | 'boolean' | 'list';

/** A command's flags by long name. */
export type OptionSpecs = Readonly<Record<string, OptionKind>>;

/** The parsed flags of {@link OptionSpecs} `O`; a flag that was not given is absent. */
export type OptionValues<O extends OptionSpecs> = {
  readonly [K in keyof O]?: O[K] extends 'boolean' ? boolean : O[K] extends 'list' ? readonly string[] : string;
};

/** What a command's `run` receives once its flags are known to be valid. */
export interface CommandInput<O extends OptionSpecs> {
  readonly values: OptionValues<O>;
  readonly positionals: readonly string[];
  /** The arguments as given, for commands that hand them on. */
  readonly args: readonly string[];
}

/** One command of the table: its flags, its help, and what it does. */
export interface CommandSpec<O extends OptionSpecs> {
  readonly name: string;
  /** Its entry in `shieldx --help`: the synopsis and a short description, indented as printed. */
  readonly summary: string;
  /** Its `--help` text (or where to read it). */
  readonly usage: string | ((context: CliContext) => Promise<string>);
  readonly options: O;
  /** Runs the command; resolves the exit code. */
  run(input: CommandInput<O>, context: CliContext): number | Promise<number>;
}

/** A command with its flag types erased, as the dispatcher holds it. */
export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  /** Checks the flags, prints the help when asked, else runs the command; resolves the exit code. */
  execute(args: readonly string[], context: CliContext): Promise<number>;
}

/** Exit code of a usage error (unknown command or flag, missing argument). */
export const USAGE_ERROR = 2;

/** Writes a usage error as one line that names the command's help, and returns {@link USAGE_ERROR}. */
export function usageError(context: CliContext, command: string, message: string): number {
  context.stderr.write(`shieldx ${command}: ${message} (shieldx ${command} --help)\n`);
  return USAGE_ERROR;
}

type ParseArgsOptions = NonNullable<ParseArgsConfig['options']>;

const KIND: Record<OptionKind, ParseArgsOptions[string]> = {
  string: { type: 'string' },
  boolean: { type: 'boolean' },
  list: { type: 'string', multiple: true },
};

/**
 * Turns a {@link CommandSpec} into a table entry. Flags are parsed strictly (util.parseArgs): an unknown flag or a
 * flag without its value is a one-line usage error; `--help`, `-h` or a first argument `help` prints the usage and
 * runs nothing.
 */
export function defineCommand<const O extends OptionSpecs>(spec: CommandSpec<O>): CliCommand {
  const options: ParseArgsOptions = { help: { type: 'boolean', short: 'h' } };
  for (const [name, kind] of Object.entries(spec.options)) options[name] = KIND[kind];
  return {
    name: spec.name,
    summary: spec.summary,
    async execute(args, context) {
      let parsed: ReturnType<typeof parseArgs>;
      try {
        parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
      } catch (error) {
        // Node's message goes on to explain `--` for values that start with a dash: its first sentence says it.
        return usageError(context, spec.name, (error as Error).message.split(/\.\s/)[0]);
      }
      if (parsed.values.help === true || parsed.positionals[0] === 'help') {
        context.stdout.write(typeof spec.usage === 'string' ? spec.usage : await spec.usage(context));
        return 0;
      }
      const values = Object.fromEntries(Object.entries(parsed.values).filter(([name]) => name !== 'help'));
      // parseArgs returned exactly the flags declared in spec.options, each of the type its kind maps to.
      return spec.run({ values: values as OptionValues<O>, positionals: parsed.positionals, args }, context);
    },
  };
}
