import { eventStoreConformance } from '../conformance/suite.js'

eventStoreConformance('postgres')
