import { messagingConformance } from './conformance/suite.js'

messagingConformance('postgres')
