// solidity-coverage: test-only contracts are not part of the product. Coverage instruments one
// in-process network, so its mocha runs serially (npm test's two workers would refuse to start).
module.exports = {
  skipFiles: ["mocks/"],
  mocha: { parallel: false, timeout: 300_000 },
};
