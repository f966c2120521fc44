import { messagingConformance } from './conformance/suite.js'

messagingConformance('memory')
