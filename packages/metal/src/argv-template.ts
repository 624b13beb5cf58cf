/**
 * The argv template engine of metal: `install.command` and deploy's command templates are argv
 * lists with `{name}` placeholders. A value is substituted inside one argv element (no shell, so
 * no quoting problems and no injection); an element that is exactly `{name}` of a list value
 * expands to that many elements (e.g. `{ssh_options}`). A placeholder without a value is an
 * error naming it, never an empty string.
 */
import { MetalError } from "./errors.js";

const PLACEHOLDER = /\{([a-z_]+)\}/g;

export function renderArgv(
  template: readonly string[],
  values: Readonly<Record<string, string | undefined>>,
  lists: Readonly<Record<string, readonly string[]>> = {},
): string[] {
  return template.flatMap((element) => {
    const list = /^\{([a-z_]+)\}$/.exec(element)?.[1];
    if (list !== undefined && lists[list] !== undefined) return [...lists[list]];
    return [
      element.replace(PLACEHOLDER, (_match, name: string) => {
        const value = values[name];
        if (value === undefined) {
          throw new TemplateValueError(
            `command template ${JSON.stringify(template)} uses {${name}} where it is not known`,
          );
        }
        return value;
      }),
    ];
  });
}

export class TemplateValueError extends MetalError {
  override readonly code: string = "TEMPLATE_UNKNOWN_PLACEHOLDER";
  override readonly exit = "refused";
}
