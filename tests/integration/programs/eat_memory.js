// Touches $MIB MiB, one MiB at a time (a container over its memory limit), says "survived" if
// nothing stopped it, then stays up.
const chunks = [];
for (let i = 0; i < Number(process.env.MIB || 256); ++i) chunks.push(Buffer.alloc(1 << 20, 1));
console.log("survived");
setInterval(() => {}, 1 << 30);
