using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Documents.Tests.Pdf;

public sealed class MediaTypesTests
{
    [Fact]
    public void Every_corpus_pdf_is_recognised_from_its_bytes()
    {
        Assert.All(Directory.GetFiles(PdfCorpus.Root, "*.pdf"), f => Assert.Equal(MediaTypes.Pdf, MediaTypes.SniffFile(f)));
    }

    [Fact]
    public void Dicom_files_with_and_without_preamble_are_recognised()
    {
        var dicom = PaliGemma2.DocPipeline.Tests.Shared.Corpus.Folder("dicom");
        Assert.Equal(MediaTypes.Dicom, MediaTypes.SniffFile(Path.Combine(dicom, "CT_small.dcm")));
        // A bare little-endian data set (no preamble, no meta header) starting with (0008,0005) CS.
        Assert.Equal(MediaTypes.Dicom, MediaTypes.Sniff([0x08, 0x00, 0x05, 0x00, (byte)'C', (byte)'S', 0x0A, 0x00, (byte)'I', (byte)'S']));
        // no_meta.dcm starts with a stray byte before its first element: not recognisable, and GDCM refuses it too.
        Assert.Equal(MediaTypes.Unknown, MediaTypes.SniffFile(Path.Combine(dicom, "no_meta.dcm")));
    }

    [Fact]
    public void Images_are_recognised_and_text_is_not()
    {
        using var image = new Image<Rgb24>(4, 4);
        foreach (var (save, expected) in new (Action<Stream>, string)[]
                 {
                     (s => image.SaveAsPng(s), MediaTypes.Png),
                     (s => image.SaveAsJpeg(s), MediaTypes.Jpeg),
                     (s => image.SaveAsTiff(s), MediaTypes.Tiff),
                 })
        {
            using var ms = new MemoryStream();
            save(ms);
            Assert.Equal(expected, MediaTypes.Sniff(ms.ToArray()));
        }

        Assert.Equal(MediaTypes.Unknown, MediaTypes.Sniff("hello, world"u8));
        Assert.Equal(MediaTypes.Unknown, MediaTypes.Sniff([]));
    }
}
