export { loadTable, type TableOptions, type TableInfo, type TableData, type Normalization } from './table.ts';
export { loadImageFolder, type ImageFolderOptions, type ImageFolderInfo, type ImageFolderData } from './images.ts';
export { splitToDataset, batchExamples, sampleSplit, type PipelineOptions } from './pipeline.ts';
export { DataError, splitOf, sortClasses, type SplitFractions, type SplitName, type SelectOptions } from './records.ts';
