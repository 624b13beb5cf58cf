export * from "./netns.js";
export * from "./errors.js";
export * from "./kernel.js";
export * from "./cpio.js";
export * from "./init-script.js";
export * from "./initramfs.js";
