namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>
/// Bounds checked from the header before any pixel data is decoded, so that a hostile or broken file
/// cannot make the preparation worker allocate gigabytes.
/// </summary>
/// <param name="MaxFileBytes">Largest file accepted at all.</param>
/// <param name="MaxRows">Largest Rows value.</param>
/// <param name="MaxColumns">Largest Columns value.</param>
/// <param name="MaxFrames">Largest NumberOfFrames value.</param>
/// <param name="MaxPixelsPerFrame">Largest Rows × Columns.</param>
/// <param name="MaxDecodedBytes">Largest decoded buffer (all frames, all samples).</param>
public sealed record DicomLimits(
    long MaxFileBytes = 2L * 1024 * 1024 * 1024,
    int MaxRows = 16_384,
    int MaxColumns = 16_384,
    int MaxFrames = 4_096,
    long MaxPixelsPerFrame = 16_384L * 16_384,
    long MaxDecodedBytes = 1L * 1024 * 1024 * 1024)
{
    /// <summary>Defaults that fit any real radiograph (a 43 × 43 cm detector at 100 µm is 4,300²).</summary>
    public static DicomLimits Default { get; } = new();
}
