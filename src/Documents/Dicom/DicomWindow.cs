namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>A VOI window in modality-LUT output units (e.g. Hounsfield units for CT).</summary>
/// <param name="Center">Window Center.</param>
/// <param name="Width">Window Width (at least 1).</param>
public readonly record struct DicomWindow(double Center, double Width);
