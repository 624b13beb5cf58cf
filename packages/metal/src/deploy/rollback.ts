/**
 * Putting a node back on the generation it ran before this deploy (ADR 0211), after its switch
 * failed, it could not be confirmed, or it did not come back Ready. When metal still reaches the
 * node it switches back itself; when it cannot, the watchdog armed before the switch does it on
 * the node (the way deploy-rs' magic rollback deactivates an unconfirmed profile,
 * src/bin/activate.rs `deactivate`), and metal waits until the node answers on that generation.
 * Either way the node must then be Ready again, and it is uncordoned before the deploy stops.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseGeneration } from "./command-templates.js";
import { DeployError } from "./errors.js";
import { uncordon, waitReady, type NodeRun } from "./steps.js";

/** Rolls back and uncordons; returns how, for the report. Throws when the node stays lost. */
export async function rollBack(node: NodeRun): Promise<string> {
  const generation = node.state.previousGeneration;
  if (generation === undefined) throw new DeployError("no previous generation recorded");
  if (node.state.rebooting) return rollBackAfterReboot(node, generation);
  const watchdogArmed = node.state.armedAt !== undefined;
  const byWatchdog = `its watchdog switched it back to generation ${generation} by itself`;
  // Stop the watchdog first so it does not switch a second time later. When it cannot be
  // stopped it may have fired already: a node back on the old generation needs nothing more.
  if (watchdogArmed && (await node.run(node.commands.confirm, {}, true)).exitCode !== 0) {
    if ((await generationNow(node)) === generation) return finish(node, byWatchdog);
  }
  const direct = await node.run(node.commands.rollback, { generation }, true);
  let how = `metal switched it back to generation ${generation}`;
  if (direct.exitCode !== 0) {
    if (!watchdogArmed) {
      throw new DeployError(
        `rolling ${node.host.name} back to generation ${generation} failed and no watchdog is ` +
          `left to do it (see ${node.logFile})`,
      );
    }
    await waitForGeneration(node, generation);
    how = byWatchdog;
  }
  return finish(node, how);
}

/**
 * No watchdog survives a reboot: metal can only roll back a node it still reaches. The old
 * generation becomes the boot default and the node reboots into it.
 */
async function rollBackAfterReboot(node: NodeRun, generation: string): Promise<string> {
  const answer = await node.run(node.commands.rollbackBoot, { generation }, true);
  if (answer.exitCode !== 0) {
    throw new DeployError(
      `${node.host.name} cannot be reached to roll back (no watchdog survives a reboot): pick ` +
        `generation ${generation} in its boot menu (see ${node.logFile})`,
    );
  }
  const bootId = (await (await node.api()).getNode(node.host.name)).bootId;
  await node.run(node.commands.reboot);
  await waitReady(node, bootId);
  await uncordon(node);
  return `metal made generation ${generation} the boot default and rebooted it`;
}

async function finish(node: NodeRun, how: string): Promise<string> {
  node.state.armedAt = undefined;
  await waitReady(node, undefined);
  await uncordon(node);
  return how;
}

/** The node's current generation, or undefined when it cannot be read (unreachable). */
async function generationNow(node: NodeRun): Promise<string | undefined> {
  const answer = await node.run(node.commands.currentGeneration, {}, true);
  return answer.exitCode === 0 ? parseGeneration(answer.stdout) : undefined;
}

/** Polls the node's system profile until it names `generation` again. */
async function waitForGeneration(node: NodeRun, generation: string): Promise<void> {
  const { confirmTimeoutMs, readyTimeoutMs, pollMs } = node.timing;
  const deadline = (node.state.armedAt ?? Date.now()) + confirmTimeoutMs + readyTimeoutMs;
  let seen = "no answer";
  for (;;) {
    const current = await generationNow(node);
    if (current === generation) return;
    if (current !== undefined) seen = `generation ${current}`;
    if (Date.now() >= deadline) {
      throw new DeployError(
        `${node.host.name} did not come back on generation ${generation} (last seen: ${seen}); ` +
          `its watchdog should have switched it back: check its console`,
      );
    }
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
}
