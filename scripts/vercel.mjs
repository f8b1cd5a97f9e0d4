// Vercel's AI SDK with its default OpenAI model (`openai(model)`: the Responses API) through the
// gateway: a plain answer, a stream with its usage, and a tool loop of two steps, for each model
// named on the command line. Run by scripts/agents.sh; GATEWAY is the gateway's base URL.
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';

const openai = createOpenAI({ baseURL: `${process.env.GATEWAY}/v1`, apiKey: 'unused' });
const lookup = tool({
  description: 'Look something up',
  inputSchema: z.object({ query: z.string() }),
  execute: async ({ query }) => `found ${query}`,
});
const model = openai(process.argv[2]);
const plain = await generateText({ model, prompt: 'say hello' });
const stream = streamText({ model, prompt: 'say hello' });
let streamed = '';
for await (const piece of stream.textStream) streamed += piece;
const usage = await stream.usage;
const looped = await generateText({ model, prompt: 'look up t0', tools: { lookup }, stopWhen: stepCountIs(3) });
const called = looped.steps[0].toolCalls.map((c) => `${c.toolName}(${JSON.stringify(c.input)})`).join(',');
console.log(`plain: ${plain.text}`);
console.log(`streamed: ${streamed} (${usage.outputTokens} output tokens)`);
console.log(`tool loop: ${called}, then ${looped.text} in ${looped.steps.length} steps`);
if (looped.steps.length !== 2 || looped.steps[0].toolCalls.length !== 1 || usage.outputTokens <= 0) process.exit(1);
