import * as tf from "@tensorflow/tfjs";
await tf.setBackend("cpu");
console.log(tf.getBackend());
function model(S, C) {
  const inp = tf.input({ shape: [S, S, C] });
  let x = tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: "same", activation: "relu" }).apply(inp);
  x = tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: "same", activation: "relu" }).apply(x);
  x = tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: "same", activation: "relu" }).apply(x);
  x = tf.layers.flatten().apply(x);
  x = tf.layers.dense({ units: 64, activation: "relu" }).apply(x);
  const out = tf.layers.dense({ units: 1, activation: "sigmoid" }).apply(x);
  const m = tf.model({ inputs: inp, outputs: out });
  m.compile({ optimizer: tf.train.adam(1e-3), loss: "binaryCrossentropy" });
  return m;
}
for (const [S, C] of [[32, 4], [24, 4], [48, 4]]) {
  const m = model(S, C);
  const N = 512, B = 32;
  const xs = tf.randomNormal([B, S, S, C]); const ys = tf.randomUniform([B, 1]).round();
  const t0 = performance.now();
  for (let i = 0; i < N / B; i++) await m.trainOnBatch(xs, ys);
  console.log(S, C, ((performance.now() - t0) / 1000).toFixed(2), "s per 512");
}
