namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>The three channels of a PALETTE COLOR image.</summary>
internal sealed record PaletteTables(DicomLookupTable Red, DicomLookupTable Green, DicomLookupTable Blue);
