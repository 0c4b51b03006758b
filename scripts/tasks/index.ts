// Hardhat tasks for consortium operators and auditors, imported by hardhat.config.ts.
import "./governance";
import "./custody";
import "./audit";
