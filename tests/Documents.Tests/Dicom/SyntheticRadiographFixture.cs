using System.Runtime.InteropServices;

namespace PaliGemma2.DocPipeline.Documents.Tests.Dicom;

/// <summary>
/// A chest-radiograph-sized image (2,500 wide × 3,000 high, 16-bit, MONOCHROME1) written once per
/// test class as uncompressed DICOM, then encoded by GDCM's command line as JPEG 2000 and JPEG-LS.
/// </summary>
public sealed class SyntheticRadiographFixture : IDisposable
{
    public const int Rows = 3000;
    public const int Columns = 2500;
    public const int BitsStored = 16;

    private readonly DicomTestEnvironment.TempFolder _temp = DicomTestEnvironment.CreateTempFolder();

    public SyntheticRadiographFixture()
    {
        Pixels = MinimalDicomWriter.SyntheticRadiograph(Rows, Columns, BitsStored);
        RawPath = _temp.File("radiograph-raw.dcm");
        MinimalDicomWriter.Write(
            RawPath,
            new MinimalDicomWriter.Spec(Rows, Columns, 16, BitsStored, "MONOCHROME1"),
            MemoryMarshal.AsBytes(Pixels.AsSpan()));
        J2kPath = _temp.File("radiograph-j2k.dcm");
        JpegLsPath = _temp.File("radiograph-jls.dcm");
        DicomTestEnvironment.Run("gdcmconv", "--j2k", RawPath, J2kPath);
        DicomTestEnvironment.Run("gdcmconv", "--jpegls", RawPath, JpegLsPath);
    }

    public ushort[] Pixels { get; }

    public string RawPath { get; }

    public string J2kPath { get; }

    public string JpegLsPath { get; }

    public void Dispose() => _temp.Dispose();
}
